"""Paragraph text -> sentence spans, by rules that survive scholarly prose.

Callouts are masked first (their characters can never hold a boundary), so "et al." inside
"Smith et al., 2001" or a superscript "12" after a full stop cannot split a sentence. Then a
full stop, question or exclamation mark followed by space and a sentence start is a boundary
unless the word before it is an abbreviation ("Fig.", "e.g.", "J. Smith") or it sits inside
parentheses. A callout in the gap between two sentences belongs to the first.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

# A character from Unicode's private use area stands in for every masked callout character:
# it is neither space, letter nor punctuation, so no rule below mistakes it for text.
MASK = "\ue000"

# Words that end with a full stop without ending a sentence. Lower case, no final dot.
# These come before a number, a name or lower case text, so they never end a sentence.
ABBREVIATIONS = frozenset(
    re.findall(
        r"\S+",
        """
        approx apr aug ca cf cfr chap col conf cv dec dept dr e.g eg eq eqs eqn eqns esp feb
        fig figs fol gen i.e ie incl jan jul jun lit mar mr mrs ms no nos oct p pp prof ref
        refs sect sep sept ssp subsp suppl supp tab tabs univ viz vol vols vs ed eds ibid ff
        cit op
        """,
    )
)
# These also end sentences ("for 5 min. The cells", "and so on, etc. Then"): a following
# upper-case letter means a new sentence, anything else (a year in brackets, lower case) not.
SOFT_ABBREVIATIONS = frozenset(
    re.findall(r"\S+", "al etc inc ltd co min sec max st resp sp spp nov var")
)

_TERMINATOR = re.compile(r"[.!?]+[" + MASK + r"\"'”’)\]]*[\s" + MASK + r"]+")
_WORD_BEFORE = re.compile(r"([\w.\-]+)[" + MASK + r"]*$")
_OPENERS = "\"'“‘(["
_PARENS = re.compile(r"[()\[\]]")
_SPACE = re.compile(r"\s")
_BULLET = re.compile(r"\s([•■□○●◦▪▫◆◇])\s")
_WORD_AFTER = re.compile(r"[^\s" + MASK + r".,;:()\[\]]+")
_CAPITAL_OR_DIGIT = re.compile(r"[A-Z0-9]")


def split_sentences(text: str, protected: Sequence[tuple[int, int]] = ()) -> list[tuple[int, int]]:
    """Return [start, end) spans of the sentences of `text`, trimmed of surrounding space.

    `protected` spans (callouts, with their brackets) never contain a boundary; one that sits
    between a full stop and the next sentence ends the earlier sentence, unless it is a
    narrative citation ("... before. Smith et al. (2001) showed ...") that starts the next.
    """
    masked = _mask(text, protected)
    pairs = _bracket_pairs(masked) if "(" in masked or "[" in masked else []
    starts = [0]
    for match in _TERMINATOR.finditer(masked):
        stop = match.start()
        gap_end = match.end()
        if gap_end >= len(masked):
            break
        gap = masked[stop:gap_end]
        if not _SPACE.search(gap):
            continue  # "0.05", "E.coli" or a mask glued to a word: no space, no boundary
        if (
            pairs
            and any(
                open_at < stop < close_at
                # A whole sentence in brackets, "(This was new.) Next", still ends there.
                and not (close_at < gap_end and not masked[starts[-1] : open_at].strip())
                for open_at, close_at in pairs
            )
        ):
            continue
        start = _next_start(masked, text, match, stop)
        if start is not None and start > starts[-1]:
            starts.append(start)
    if _BULLET.search(masked):
        # List items run together in a paragraph often lack final stops: a bullet starts one.
        bullets = [m.start(1) for m in _BULLET.finditer(masked)]
        starts = sorted({*starts, *bullets})
    spans: list[tuple[int, int]] = []
    ends = [*starts[1:], len(text)]
    for start, end in zip(starts, ends, strict=True):
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if end > start:
            spans.append((start, end))
    return spans


def _mask(text: str, protected: Sequence[tuple[int, int]]) -> str:
    if not protected:
        return text
    parts: list[str] = []
    cursor = 0
    for start, end in sorted(protected):
        start = max(start, cursor)
        if end <= start:
            continue
        parts.append(text[cursor:start])
        parts.append(MASK * (end - start))
        cursor = end
    parts.append(text[cursor:])
    return "".join(parts)


def _bracket_pairs(masked: str) -> list[tuple[int, int]]:
    """Offsets of matched pairs of parentheses or brackets; no boundary falls inside one.

    Only matched pairs count: a stray "(" (as in list items "1)") must not silence the rest
    of the paragraph.
    """
    stack: list[tuple[str, int]] = []
    pairs: list[tuple[int, int]] = []
    for match in _PARENS.finditer(masked):
        ch = match.group(0)
        if ch in "([":
            stack.append((ch, match.start()))
        elif stack and stack[-1][0] == ("(" if ch == ")" else "["):
            pairs.append((stack.pop()[1], match.start()))
    return pairs


def _next_start(masked: str, text: str, match: re.Match[str], stop: int) -> int | None:
    """Where the sentence after this terminator starts, or None when it is no boundary."""
    gap_end = match.end()
    first = masked[gap_end]
    terminator = masked[stop]
    if terminator == "." and _is_abbreviation(masked, stop, first):
        return None
    if _looks_like_start(masked, gap_end):
        return gap_end
    # A narrative citation opening the next sentence: the masked run in the gap starts with a
    # capitalised name ("Smith et al. (2001) showed"), and lower case text follows it.
    gap = masked[stop:gap_end]
    mask_at = gap.find(MASK)
    if mask_at >= 0 and first.islower():
        run_start = stop + mask_at
        if text[run_start].isupper() and masked[run_start - 1].isspace():
            return run_start
    return None


def _looks_like_start(masked: str, at: int) -> bool:
    ch = masked[at]
    if ch.isupper() or ch.isdigit():
        return True
    if ch.islower():
        # Names of genes, plasmids and molecules start sentences in lower case ("mRNA levels",
        # "pDRFlip30 is", "p53 binds"): a lower-case word with a capital or digit inside.
        word = _WORD_AFTER.match(masked, at)
        return bool(word and _CAPITAL_OR_DIGIT.search(word.group(0)))
    if ch in _OPENERS:
        nxt = masked[at + 1 : at + 2]
        return bool(nxt) and (nxt.isupper() or nxt.isdigit())
    return False


def _is_abbreviation(masked: str, stop: int, following: str) -> bool:
    match = _WORD_BEFORE.search(masked, max(0, stop - 40), stop)
    if not match:
        return False
    word = match.group(1)
    if word[-1:] == ".":
        word = word.rstrip(".")
    lower = word.lower()
    if lower in ABBREVIATIONS:
        return True
    if lower in SOFT_ABBREVIATIONS:
        return not following.isupper()
    if len(word) == 1 and word.isalpha() and word.isupper():
        return True  # an initial: "J. Smith", "E. coli"
    # Dotted letter groups such as "U.S" or "i.e"; a number such as "0.05" is not one.
    parts = [part for part in word.split(".") if part]
    return "." in word and all(part.isalpha() and len(part) <= 2 for part in parts)


# Between callouts of one run: space, separators, brackets and any dash ("1−3" in ACS).
_CLUSTER_GAP = re.compile(r"[\s,;\-\u2010-\u2014\u2212\[\]()]*|\s*(?:and|&)\s*")


def protect_callouts(text: str, callouts: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """Spans to protect when splitting: runs of callouts with the brackets around them.

    "[3]–[5], [9]" or "(Smith, 2001; Jones, 2002)" is one run: its commas, dashes and the
    enclosing brackets must not be read as text, so a full stop before it stays a full stop.
    """
    spans = sorted((s, e) for s, e in callouts if e > s)
    runs: list[list[int]] = []
    for start, end in spans:
        if runs and (start <= runs[-1][1] or _CLUSTER_GAP.fullmatch(text, runs[-1][1], start)):
            runs[-1][1] = max(runs[-1][1], end)
        else:
            runs.append([start, end])
    protected: list[tuple[int, int]] = []
    for start, end in runs:
        if start > 0 and text[start - 1] in "[(":
            start -= 1
        if end < len(text) and text[end] in "])":
            end += 1
        protected.append((start, end))
    return protected
