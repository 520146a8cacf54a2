"""`python -m citelens`: the same command line as the `citelens` script."""

from citelens.cli import main

main()
