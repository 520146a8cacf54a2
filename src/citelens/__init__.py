"""citelens: a smart citation index over the full text of scholarly articles."""

__version__ = "0.1.0"
