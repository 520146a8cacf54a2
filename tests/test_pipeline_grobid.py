"""The PDF path of ingest: PDFs go to a GROBID server over real HTTP (a local server in a thread
answering with a real GROBID TEI file), and come back as stored statements."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner

from citelens.cli import cli
from citelens.pipeline import ingest
from citelens.store import open_store

PAPER = "Acta_Oncol_2011_Jun_16_50(5)_621-629"


@pytest.fixture(scope="module")
def tei_bytes(shared_data: Path) -> bytes:
    folder = shared_data / "articles" / "grobid-tei" / "pmc-paired" / PAPER
    found = sorted(folder.glob("*.grobid.tei.xml"))
    if not found:
        pytest.skip(f"no GROBID TEI in {folder}")
    return found[0].read_bytes()


@pytest.fixture
def grobid_url(tei_bytes: bytes) -> Iterator[str]:
    """A local stand-in for GROBID's full-text service: any PDF in, that paper's TEI out."""
    posted: list[int] = []

    class FullText(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if self.path != "/api/processFulltextDocument" or b"%PDF" not in body:
                self.send_error(400)
                return
            posted.append(len(body))
            self.send_response(200)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(tei_bytes)))
            self.end_headers()
            self.wfile.write(tei_bytes)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), FullText)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _pdf(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "paper.pdf"
    path.write_bytes(b"%PDF-1.4\n% a stand-in: the test server answers the TEI of a real paper\n")
    return path


def test_pdfs_are_ingested_through_grobid(tmp_path: Path, tmp_db: Path, grobid_url: str) -> None:
    _pdf(tmp_path / "pdfs")
    store = open_store(str(tmp_db))
    try:
        without = ingest([tmp_path / "pdfs"], store, classifier="baseline", progress=False)
        assert without.files == 0  # PDFs are only looked for with a GROBID server
        summary = ingest(
            [tmp_path / "pdfs"], store, classifier="baseline", grobid_url=grobid_url, progress=False
        )
        assert summary.failures == [] and summary.articles == 1
        assert summary.statements > 10 and summary.references > 10
        exported = list(store.export_statements())
        assert len(exported) == summary.statements
        # The skip check uses the PDF's own digest, so an unchanged PDF is not sent again.
        again = ingest(
            [tmp_path / "pdfs"], store, classifier="baseline", grobid_url=grobid_url, progress=False
        )
        assert (again.articles, again.skipped) == (0, 1)
    finally:
        store.close()


def test_an_unreachable_grobid_is_one_failure_line(tmp_path: Path, tmp_db: Path) -> None:
    pdf = _pdf(tmp_path)
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = CliRunner().invoke(
        cli,
        [
            "--db",
            str(tmp_db),
            "ingest",
            "--classifier",
            "baseline",
            "--grobid",
            f"http://127.0.0.1:{port}",
            str(pdf),
        ],
    )
    assert result.exit_code == 1
    lines = [line for line in result.stdout.splitlines() if line.startswith(str(pdf))]
    assert len(lines) == 1 and "unreachable" in lines[0]
