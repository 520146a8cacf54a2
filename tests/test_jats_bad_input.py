"""Bytes that are not a usable article: each raises ParseError with a message naming why."""

from __future__ import annotations

from pathlib import Path

import pytest

from citelens.errors import ParseError
from citelens.parse.jats import parse_jats
from citelens.parse.xmlsafe import load_xml

ARTICLE = """<?xml version="1.0" encoding="{encoding}"?>
<article><front><article-meta><title-group><article-title>Caf\u00e9 na\u00efve</article-title>
</title-group></article-meta></front><body><p>Text.</p></body></article>"""


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty input"),
        (b"  \n\t ", "empty input"),
        (b"this is plain text, not XML", "not XML"),
        (b"\x89PNG\r\n\x1a\n\x00\xff\xfe binary", "not XML"),
        (b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj", "a PDF, not XML"),
        (b"<article><body><p>unclosed</body></article>", "malformed XML"),
        (b"<article><body>", "malformed XML"),
        (
            b"<html><body><p>Hello</p></body></html>",
            "not a JATS article: the root element is <html>",
        ),
        (
            ARTICLE.format(encoding="UTF-8").encode("latin-1"),
            "not valid utf-8",
        ),
        (b'<?xml version="1.0" encoding="no-such-codec"?><article/>', "unknown encoding"),
    ],
)
def test_bad_input_raises_parse_error(data: bytes, message: str) -> None:
    with pytest.raises(ParseError, match=message):
        parse_jats(data)


def test_billion_laughs_is_refused_before_expansion() -> None:
    entities = "".join(
        f'<!ENTITY lol{n} "{("&lol" + str(n - 1) + ";") * 10}">' for n in range(1, 10)
    )
    bomb = (
        f'<?xml version="1.0"?><!DOCTYPE article [<!ENTITY lol0 "lol">{entities}]>'
        "<article><body><p>&lol9;</p></body></article>"
    ).encode()
    with pytest.raises(ParseError, match="declares entities"):
        parse_jats(bomb)


def test_external_entity_is_refused_and_never_read() -> None:
    xxe = (
        b'<?xml version="1.0"?><!DOCTYPE article [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
        b"<article><body><p>&xxe;</p></body></article>"
    )
    with pytest.raises(ParseError, match="declares entities"):
        parse_jats(xxe)
    parameter = (
        b'<?xml version="1.0"?><!DOCTYPE article [<!ENTITY % p SYSTEM "file:///etc/passwd">'
        b" %p;]><article/>"
    )
    with pytest.raises(ParseError, match="declares entities"):
        parse_jats(parameter)


def test_external_dtd_is_not_loaded() -> None:
    # An external DTD subset is normal in JATS ("JATS-archivearticle1.dtd"); it must never be
    # fetched, so pointing it at a local file changes nothing.
    data = (
        b'<?xml version="1.0"?><!DOCTYPE article SYSTEM "file:///etc/passwd">'
        b"<article><body><p>Plain &amp; simple.</p></body></article>"
    )
    doc = parse_jats(data)
    assert [p.text for p in doc.paragraphs] == ["Plain & simple."]
    assert "root:" not in doc.paragraphs[0].text


def test_utf16_with_bom_and_declared_latin1_parse() -> None:
    for encoding, data in [
        ("UTF-16", ARTICLE.format(encoding="UTF-16").encode("utf-16")),
        ("ISO-8859-1", ARTICLE.format(encoding="ISO-8859-1").encode("latin-1")),
        ("UTF-8", b"\xef\xbb\xbf" + ARTICLE.format(encoding="UTF-8").encode("utf-8")),
        ("UTF-16LE", ARTICLE.format(encoding="UTF-16").encode("utf-16-le")),
        ("UTF-16BE", ARTICLE.format(encoding="UTF-16").encode("utf-16-be")),
    ]:
        doc = parse_jats(data)
        assert doc.meta.title == "Caf\u00e9 na\u00efve", encoding


def test_load_xml_refuses_non_bytes() -> None:
    with pytest.raises(ParseError, match="expected XML as bytes"):
        load_xml("<article/>")  # type: ignore[arg-type]


def test_article_without_body_or_back_still_parses() -> None:
    doc = parse_jats(b"<article><front><article-meta/></front></article>")
    assert doc.paragraphs == [] and doc.bibliography == [] and doc.meta.doi is None


def test_truncated_article_raises_parse_error_at_any_cut() -> None:
    whole = (Path(__file__).parent / "fixtures" / "jats" / "numbered.xml").read_bytes()
    for cut in range(200, len(whole) - 20, 997):
        with pytest.raises(ParseError):
            parse_jats(whole[:cut])
