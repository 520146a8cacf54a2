"""Untrusted XML bytes -> an lxml element tree, safely.

Rejects what no article needs and an attacker would use: empty input, DTD-declared entities
(billion laughs, external entities), network or file access while parsing, and bytes that do
not decode in the encoding the document declares. Every refusal is a ParseError saying why.
"""

from __future__ import annotations

import codecs
import html.entities
import re

from lxml import etree

from citelens.errors import ParseError

# A parser per process is safe to reuse: lxml parsers are stateless between parse() calls
# apart from error logs, and building one costs more than parsing a small article.
_PARSER = etree.XMLParser(
    resolve_entities=False,
    no_network=True,
    load_dtd=False,
    huge_tree=False,
    remove_comments=False,
    remove_pis=True,
)

_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),  # before UTF-16 LE: it starts with the same two bytes
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)

_DECLARED_ENCODING = re.compile(rb"""^<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._:-]+)["']""")
# An internal DTD subset: "<!DOCTYPE name ... [" -- entity declarations can only live there.
_INTERNAL_SUBSET = re.compile(r"<!DOCTYPE[^>\[]*\[", re.IGNORECASE)
_ENTITY_DECL = re.compile(r"<!ENTITY", re.IGNORECASE)
# Encoding names libxml2 knows as declared; any other name Python can decode is re-declared.
_LIBXML_ENCODINGS = frozenset(
    re.findall(
        r"\S+",
        """
        utf-8 utf8 us-ascii ascii iso-8859-1 iso8859-1 latin1 latin-1 iso-8859-2 iso-8859-15
        windows-1250 windows-1251 windows-1252 cp1252 gb2312 gbk gb18030 big5 euc-kr euc-jp
        shift_jis iso-2022-jp koi8-r
        """,
    )
)
_ENTITY_REF = re.compile(rb"&([A-Za-z][A-Za-z0-9]{1,31});")
_XML_ENTITIES = frozenset({b"amp", b"lt", b"gt", b"quot", b"apos"})


def _encoding_of(data: bytes) -> tuple[str, int]:
    """Return (encoding, length of BOM) from the byte order mark or the XML declaration."""
    for bom, name in _BOMS:
        if data.startswith(bom):
            return name, len(bom)
    # UTF-16 without a byte order mark still starts with "<?" (or "<") padded with zeros.
    if data.startswith(b"<\x00"):
        return "utf-16-le", 0
    if data.startswith(b"\x00<"):
        return "utf-16-be", 0
    match = _DECLARED_ENCODING.match(data[:200])
    if match:
        return match.group(1).decode("ascii").lower(), 0
    return "utf-8", 0  # XML 1.0: no BOM and no declaration means UTF-8


def load_xml(data: bytes) -> etree._Element:
    """Parse untrusted XML bytes into the root element, or raise ParseError naming the problem."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise ParseError(f"expected XML as bytes, got {type(data).__name__}")
    data = bytes(data)
    if not data.strip():
        raise ParseError("empty input: the file has no XML content")
    if data.startswith(b"%PDF"):
        raise ParseError("a PDF, not XML: convert it to TEI with GROBID first")
    encoding, bom = _encoding_of(data)
    # Checked on the bytes (for one-byte-unit encodings) so that binary junk is reported as
    # "not XML" rather than as a bad encoding.
    if not encoding.startswith(("utf-16", "utf-32")) and data[bom:].lstrip()[:1] != b"<":
        raise ParseError("not XML: the content does not start with '<'")
    try:
        text = data[bom:].decode(encoding)
    except LookupError:
        raise ParseError(f"unknown encoding {encoding!r} declared in the XML declaration") from None
    except UnicodeDecodeError as exc:
        raise ParseError(
            f"bytes are not valid {encoding} (as declared or implied) at byte {exc.start + bom}: "
            "re-save the file in the encoding its XML declaration names"
        ) from None
    head = text.lstrip()[:1]
    if head != "<":
        raise ParseError("not XML: the content does not start with '<'")
    # Only the prolog can hold a DOCTYPE; look there, not through the whole article.
    root_start = _first_element_start(text)
    prolog = text[:root_start]
    subset = _INTERNAL_SUBSET.search(prolog)
    if subset and _ENTITY_DECL.search(prolog, subset.end()):
        raise ParseError(
            "DOCTYPE declares entities in an internal subset; refused "
            "(entity expansion and external entities are not allowed)"
        )
    if bom == 0 and encoding not in _LIBXML_ENCODINGS and _DECLARED_ENCODING.match(data[:200]):
        # A name Python reads and libxml2 does not ("utf_8", "cp-1252"): the text is already
        # decoded, so hand it over as UTF-8 under a declaration that says so.
        data = _DECLARED_ENCODING.sub(_utf8_declaration, text.encode("utf-8"), count=1)
    try:
        root = etree.fromstring(data, _PARSER)
    except etree.XMLSyntaxError as exc:
        if "not defined" not in str(exc) or encoding.startswith(("utf-16", "utf-32")):
            raise ParseError(f"malformed XML: {exc}") from None
        root = _with_html_entities(data, exc)
    if root is None:
        raise ParseError("not XML: no root element")
    return root


def _utf8_declaration(match: re.Match[bytes]) -> bytes:
    declaration = match.group(0)
    start, end = match.span(1)
    offset = match.start(0)
    return declaration[: start - offset] + b"UTF-8" + declaration[end - offset :]


def _with_html_entities(data: bytes, error: etree.XMLSyntaxError) -> etree._Element:
    """Parse again with HTML named entities (&nbsp;) written as character references.

    Publishers export files that use HTML entity names without the DTD that declares them.
    Each known name stands for one fixed character, so nothing expands: unknown names still
    fail, with the parser's own message.
    """

    def reference(match: re.Match[bytes]) -> bytes:
        name = match.group(1)
        codepoint = html.entities.name2codepoint.get(name.decode("ascii"))
        if name in _XML_ENTITIES or codepoint is None:
            return match.group(0)
        return b"&#%d;" % codepoint

    try:
        root = etree.fromstring(_ENTITY_REF.sub(reference, data), _PARSER)
    except etree.XMLSyntaxError:
        raise ParseError(f"malformed XML: {error}") from None
    return root


def _first_element_start(text: str) -> int:
    """Offset of the root element's '<', skipping the declaration, comments, PIs and DOCTYPE."""
    i = 0
    n = len(text)
    while i < n:
        j = text.find("<", i)
        if j < 0:
            return n
        if text.startswith("<?", j):
            k = text.find("?>", j)
            i = n if k < 0 else k + 2
        elif text.startswith("<!--", j):
            k = text.find("-->", j)
            i = n if k < 0 else k + 3
        elif text.startswith("<!", j):
            i = _end_of_doctype(text, j)
        else:
            return j
    return n


def _end_of_doctype(text: str, start: int) -> int:
    """Offset just past a DOCTYPE declaration, stepping over its internal subset and quotes."""
    depth = 0
    quote = ""
    i = start + 2
    n = len(text)
    while i < n:
        ch = text[i]
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        elif ch == ">" and depth <= 0:
            return i + 1
        i += 1
    return n
