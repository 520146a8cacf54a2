"""Statements of use: the citing work uses the cited work's method, material or data.

Using a method or reagent is mentioning, not supporting (issue 3). In a methods section the
section prior already reads reuse as mentioning (section_prior.py), but a statement often
arrives without its section (`citelens classify` input, GROBID sections without a type) or in
another one ("Cells were cultured as described previously [5]" in a results section), and
then its words ("the same antibody as", "as described previously") read as agreement. A
statement whose own words say it describes use, and that says nothing of findings, is given
the methods section's prior instead of its own (`use_sections`), so what was measured for
methods sections applies to it wherever it stands.

The wording (`describes_use`, pure) was written against SciCite, whose `method` label is this
intent: it finds 17-18% of SciCite's method citations, 0.7-1.1% of its background ones and 1 of
its 1,368 result (comparison) citations, train and test splits; and no supporting or
contrasting clinical statement (11 of 2,494 neutral ones). Each hit needs a use phrase and no
word of findings, comparison or concession anywhere in the text it reads.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from citelens.classify.base import ClassifyInput
from citelens.model import SectionType

# The section whose prior a statement of use takes.
USE_SECTION = SectionType.METHODS.value

_PROCEDURE_WORDS = (
    r"performed|carried\s+out|done|prepared|purified|isolated|cultured|grown|maintained|"
    r"generated|constructed|synthesi[sz]ed|extracted|fixed|stained|transfected|infected|"
    r"processed|cloned|amplified|sequenced|harvested|incubated|calculated|estimated|quantified|"
    r"normali[sz]ed|computed|implemented|conducted|recorded|collected"
)
_PROCEDURE = f"(?:{_PROCEDURE_WORDS})"
_TOOL = (
    r"(?:method|protocol|procedure|technique|algorithm|software|program|package|tool|pipeline|"
    r"assay|kit|scale|questionnaire|instrument|approach|model|formula|equation|criteria|"
    r"definition|system|index|score|strategy|design|apparatus|paradigm|task)s?"
)
_MATERIAL = (
    r"(?:antibod\w+|reagents?|protocols?|methods?|procedures?|conditions?|strains?|plasmids?|"
    r"primers?|constructs?|parameters?|settings?|criteria|definitions?|assay|kits?|buffers?|"
    r"media|medium|software|algorithm|approach|technique|questionnaire|scale|design|setup|"
    r"set-up)"
)
_USE = re.compile(
    # "as described previously [5]", "as previously detailed"
    r"\bas\s+(?:previously\s+|originally\s+|already\s+|elsewhere\s+)?(?:described|detailed)\b"
    # "according to the method of [5]"
    r"|\baccording\s+to\s+(?:the\s+|a\s+)?(?:\w+\s+){0,2}(?:method|protocol|procedure|"
    r"instruction|technique|approach|criteria|definition|formula|equation|classification)s?\b"
    # "purchased from", "kindly provided by", "a gift from"
    r"|\b(?:purchased|obtained|provided|supplied|donated|received)\s+(?:\w+\s+)?(?:from|by)\b"
    r"|\b(?:kind\s+|generous\s+)?gifts?\s+(?:from|of)\b"
    # "using the software of [5]", "we adopted the approach of [5]"
    r"|\b(?:using|with|by|via|following|followed|use\s+of|used|employed|adopted|applied)\s+"
    r"(?:the|a|an|their|this|that)\s+(?:\w+\s+){0,2}" + _TOOL + r"\b"
    # "the same antibody as in [7]", "antibodies were the same as in [7]"
    r"|\b(?:same|identical)\s+(?:\w+\s+){0,2}" + _MATERIAL + r"\s+(?:as|that|which)\b"
    r"|\b" + _MATERIAL + r"\s+(?:\w+\s+){0,3}(?:the\s+)?(?:same|identical)\s+(?:as|to)\b"
    # "As in [15], cells were fixed"
    r"|\bas\s+in\s+[^,]{1,40},\s*(?:\w+\s+){0,4}(?:was|were)\s+(?:\w+ly\s+)?(?:"
    + _PROCEDURE_WORDS + r"|treated|measured|analy[sz]ed|used)\b"
    # "adapted from [5]"
    r"|\b(?:adapted|modified|derived|taken|retrieved|downloaded)\s+from\b"
    # "were extracted following [5]", "was calculated using"
    r"|\b(?:was|were|is|are|been)\s+(?:\w+ly\s+)?" + _PROCEDURE + r"\s+(?:\w+\s+){0,3}"
    r"(?:as|according|following|using|by\s+(?:the|a)|with\s+(?:the|a))\b",
    re.IGNORECASE,
)
# Words of findings, comparison or concession: a statement holding any of them may compare
# results, so it keeps its own section ("results consistent with those obtained by [5]").
_FINDINGS = re.compile(
    r"\b(?:consisten\w*|inconsisten\w*|agree\w*|disagree\w*|accord(?:ance|ing\s+with)|"
    r"in\s+line|confirm\w*|support\w*|corroborat\w*|replicat\w*|reproduc\w*|contrast\w*|"
    r"contradict\w*|conflict\w*|differ\w*|unlike|similar(?:ly)?|comparable|compar\w+|"
    r"concordan\w*|discordan\w*|dispute\w*|refut\w*|challeng\w*|coincid\w*|parallel\w*|"
    r"mirror\w*|echo\w*|extend\w*|observ\w*|found|find|finding\w*|result\w*|show\w*|"
    r"demonstrat\w*|report\w*\s+(?:that|a|an|similar|higher|lower|increased|decreased)|than|"
    r"range|within|although|however|but|whereas|cannot|inappropriate\w*)\b",
    re.IGNORECASE,
)


def describes_use(text: str) -> bool:
    """Whether `text` says a method, material or data of the cited work was used, and says
    nothing of findings (see the module docstring)."""
    return _USE.search(text) is not None and _FINDINGS.search(text) is None


def use_sections(items: Sequence[ClassifyInput], enabled: bool = True) -> list[str | None]:
    """Each statement's section for the section prior: USE_SECTION where its text describes
    use (unless not `enabled`), its own section elsewhere."""
    return [USE_SECTION if enabled and describes_use(item.text) else item.section
            for item in items]


def use_suffix() -> str:
    """What a classifier's version string carries for this rule."""
    return "+use1"
