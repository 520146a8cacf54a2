"""Work identity: turns identifiers, titles and author names into stable keys and match forms.

A key ("doi:...", "pmid:...", "pmcid:...", "t:<hash>") names one work in the index whatever
article cited it; the normalised title and name forms here are what fuzzy resolution compares.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable, Sequence
from functools import lru_cache

from citelens.identifiers import normalise_doi, normalise_orcid, normalise_pmcid, normalise_pmid
from citelens.model import Author

_NON_WORD = re.compile(r"[\W_]+", re.UNICODE)


def fold(text: str) -> str:
    """Case-folded text without diacritics, with each run of punctuation or space as one space."""
    if not text.isascii():  # most titles are ASCII: skip the costly decomposition for them
        decomposed = unicodedata.normalize("NFKD", text)
        text = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _NON_WORD.sub(" ", text.casefold()).strip()


def normalise_title(title: str | None) -> str:
    """Title as compared by resolution; '' when there is none."""
    return fold(title) if title else ""


def family_key(family: str | None) -> str:
    """Family name as compared for identity and self-citation ("van der Berg" -> "vanderberg")."""
    return fold(family).replace(" ", "") if family else ""


def first_family(authors: Sequence[Author]) -> str:
    return family_key(authors[0].family) if authors else ""


def title_key(title: str | None, year: int | None, authors: Sequence[Author]) -> str | None:
    """Key "t:<hash>" of the normalised title, year and first author; None without a title."""
    norm = normalise_title(title)
    if not norm:
        return None
    basis = f"{norm}|{year if year is not None else ''}|{first_family(authors)}"
    return "t:" + hashlib.sha1(basis.encode("utf-8")).hexdigest()[:20]


def work_key(
    *,
    doi: str | None,
    pmid: str | None,
    pmcid: str | None,
    title: str | None,
    year: int | None,
    authors: Sequence[Author],
) -> str | None:
    """The strongest identity a work has: doi > pmid > pmcid > title hash; None if none."""
    doi, pmid, pmcid = normalise_doi(doi), normalise_pmid(pmid), normalise_pmcid(pmcid)
    if doi:
        return f"doi:{doi}"
    if pmid:
        return f"pmid:{pmid}"
    if pmcid:
        return f"pmcid:{pmcid}"
    return title_key(title, year, authors)


def raw_key(raw: str) -> str:
    """Identity of a reference that has no title at all: the hash of its printed form."""
    return "t:" + hashlib.sha1(("raw|" + fold(raw)).encode("utf-8")).hexdigest()[:20]


@lru_cache(maxsize=65536)
def _author_mark(author: Author) -> tuple[str | None, str | None]:
    # Cached: the same names recur across thousands of reference lists.
    family = family_key(author.family)
    initial = fold(author.given)[:1]
    # Without an initial a bare family name ("Wang") would tie too many strangers together.
    return normalise_orcid(author.orcid), f"{family}|{initial}" if family and initial else None


def author_marks(authors: Iterable[Author]) -> tuple[set[str], set[str]]:
    """ORCIDs and "family|initial" forms of a list of authors, for self-citation tests."""
    orcids: set[str] = set()
    names: set[str] = set()
    for author in authors:
        orcid, name = _author_mark(author)
        if orcid:
            orcids.add(orcid)
        if name:
            names.add(name)
    return orcids, names


def marks_overlap(citing: tuple[set[str], set[str]], cited: tuple[set[str], set[str]]) -> bool:
    """True when two author_marks results share an ORCID or a family name with initial."""
    return bool(citing[0] & cited[0]) or bool(citing[1] & cited[1])


def shares_author(citing: Sequence[Author], cited: Sequence[Author]) -> bool:
    """True when an author of the citing work also wrote the cited one (ORCID or name+initial)."""
    return marks_overlap(author_marks(citing), author_marks(cited))
