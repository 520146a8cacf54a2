"""pdf_to_tei against real HTTP servers on 127.0.0.1 that answer like GROBID does."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner

from citelens.cli import cli
from citelens.errors import GrobidError
from citelens.parse.grobid import FULLTEXT_ENDPOINT, pdf_to_tei
from citelens.parse.tei import parse_tei

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
MISC_TEI = DATA / "articles" / "grobid-tei" / "misc"
FIXTURE_TEI = Path(__file__).resolve().parent / "fixtures" / "tei" / "segmented_0.8.tei.xml"


def _tei_answer() -> bytes:
    """A real GROBID output when the shared data is present, else the hand-written fixture."""
    real = sorted(MISC_TEI.glob("*.tei.xml")) if MISC_TEI.is_dir() else []
    return (real[0] if real else FIXTURE_TEI).read_bytes()


class _Grobid(ThreadingHTTPServer):
    """Answers processFulltextDocument: `busy` times 503, then 200 with `tei`."""

    def __init__(self, tei: bytes, busy: int = 0, status: int = 200) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.tei = tei
        self.busy = busy
        self.status = status
        self.requests: list[dict[str, bytes]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: _Grobid

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.path != FULLTEXT_ENDPOINT:
            self._answer(404, b"not found")
            return
        message = BytesParser(policy=HTTP).parsebytes(
            f"Content-Type: {self.headers['Content-Type']}\r\n\r\n".encode() + body
        )
        fields = {
            part.get_param("name", header="content-disposition"): part.get_payload(decode=True)
            for part in message.iter_parts()
        }
        self.server.requests.append(fields)
        if self.server.busy > 0:
            self.server.busy -= 1
            self._answer(503, b"")
        elif self.server.status != 200:
            self._answer(self.server.status, b"[GENERAL] An exception occurred\n")
        else:
            self._answer(200, self.server.tei, "application/xml")

    def _answer(self, status: int, body: bytes, ctype: str = "text/plain") -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # quiet test output
        pass


def _serve(server: _Grobid) -> Iterator[_Grobid]:
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def grobid() -> Iterator[_Grobid]:
    yield from _serve(_Grobid(_tei_answer()))


@pytest.fixture
def busy_twice() -> Iterator[_Grobid]:
    yield from _serve(_Grobid(_tei_answer(), busy=2))


@pytest.fixture
def pdf(tmp_path: Path) -> Path:
    path = tmp_path / "paper.pdf"
    path.write_bytes(b"%PDF-1.4\n% a minimal body the test server does not read\n%%EOF\n")
    return path


def test_posts_pdf_with_grobid_options_and_returns_tei(grobid: _Grobid, pdf: Path) -> None:
    tei = pdf_to_tei(pdf, grobid.url + "/", timeout=10)
    assert tei == grobid.tei
    assert parse_tei(tei).bibliography  # what came back is usable TEI
    (fields,) = grobid.requests
    assert fields["input"] == pdf.read_bytes()
    assert fields["consolidateCitations"] == b"0"
    assert fields["includeRawCitations"] == b"1"
    assert fields["segmentSentences"] == b"1"


def test_retries_after_503_with_exponential_backoff(busy_twice: _Grobid, pdf: Path) -> None:
    waits: list[float] = []
    tei = pdf_to_tei(pdf, busy_twice.url, timeout=10, backoff=0.5, sleep=waits.append)
    assert tei == busy_twice.tei
    assert len(busy_twice.requests) == 3
    assert waits == [0.5, 1.0]


def test_gives_up_when_busy_beyond_retries(pdf: Path) -> None:
    for server in _serve(_Grobid(b"", busy=10)):
        with pytest.raises(GrobidError, match=r"still busy \(503\) after 3 attempts"):
            pdf_to_tei(pdf, server.url, timeout=10, retries=2, sleep=lambda s: None)
        assert len(server.requests) == 3


def test_server_error_is_reported_with_status(pdf: Path) -> None:
    for server in _serve(_Grobid(b"", status=500)):
        with pytest.raises(GrobidError, match="HTTP 500"):
            pdf_to_tei(pdf, server.url, timeout=10)


def test_non_tei_answer_is_refused(pdf: Path) -> None:
    for server in _serve(_Grobid(b"<html>hello</html>")):
        with pytest.raises(GrobidError, match="not with TEI XML"):
            pdf_to_tei(pdf, server.url, timeout=10)


def test_unreachable_server_names_url_and_how_to_start_it(pdf: Path) -> None:
    with socket.socket() as sock:  # a port that was free a moment ago and has no listener
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    with pytest.raises(GrobidError) as error:
        pdf_to_tei(pdf, url, timeout=5)
    message = str(error.value)
    assert f"GROBID server at {url} unreachable: connection refused" in message
    assert "docker run" in message


def test_missing_or_non_pdf_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(GrobidError, match="cannot read PDF"):
        pdf_to_tei(tmp_path / "absent.pdf", "http://127.0.0.1:9", timeout=1)
    text = tmp_path / "notes.pdf"
    text.write_text("just text")
    with pytest.raises(GrobidError, match="is not a PDF"):
        pdf_to_tei(text, "http://127.0.0.1:9", timeout=1)


def test_cli_ingests_a_pdf_through_grobid(grobid: _Grobid, pdf: Path, tmp_path: Path) -> None:
    db = tmp_path / "index.db"
    args = ["--db", str(db), "ingest", "--no-progress", str(pdf), "--grobid", grobid.url]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "articles: 1" in result.output
    assert "failures: 0" in result.output
    statements = int(result.output.split("statements: ")[1].split()[0])
    assert statements > 0
    assert len(grobid.requests) == 1


def test_cli_reports_unreachable_grobid_as_a_failed_file(pdf: Path, tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    args = ["--db", str(tmp_path / "i.db"), "ingest", "--no-progress", str(pdf)]
    result = CliRunner().invoke(cli, [*args, "--grobid", f"http://127.0.0.1:{port}"])
    assert result.exit_code == 1
    assert "unreachable: connection refused" in result.output
