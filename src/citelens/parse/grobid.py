"""A PDF on disk -> GROBID TEI bytes, by posting it to a running GROBID server.

GROBID answers 503 when all its worker threads are busy; the client waits and retries with
exponential backoff. Any other failure is a GrobidError that says what to do.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import httpx

from citelens.errors import GrobidError

FULLTEXT_ENDPOINT = "/api/processFulltextDocument"
START_HINT = "start it with: docker run --rm --init -p 8070:8070 lfoppiano/grobid:0.8.0"

# consolidateCitations=0: no calls from GROBID to CrossRef, so output depends on the PDF alone;
# includeRawCitations=1: the printed reference (note type=raw_reference) feeds DOI recovery;
# segmentSentences=1: <s> elements, which parse_tei turns into Paragraph.sentences.
FULLTEXT_FORM = {
    "consolidateCitations": "0",
    "includeRawCitations": "1",
    "segmentSentences": "1",
}


def pdf_to_tei(
    pdf_path: str | Path,
    url: str,
    *,
    timeout: float = 120.0,
    retries: int = 5,
    backoff: float = 1.0,
    sleep: Callable[[float], None] = time.sleep,
) -> bytes:
    """Send one PDF to GROBID's full-text service and return the TEI XML it answers.

    `retries` counts extra attempts after a 503 (server busy), waiting backoff * 2**n seconds
    before attempt n + 1. Raises GrobidError when the file is unreadable, the server is
    unreachable, stays busy, or answers anything but TEI.
    """
    path = Path(pdf_path)
    try:
        pdf = path.read_bytes()
    except OSError as exc:
        raise GrobidError(f"cannot read PDF {path}: {exc.strerror or exc}") from None
    if not pdf.startswith(b"%PDF"):
        raise GrobidError(f"{path} is not a PDF (it does not start with %PDF)")

    base = url.rstrip("/")
    endpoint = base + FULLTEXT_ENDPOINT
    attempt = 0
    with httpx.Client(timeout=timeout) as client:
        while True:
            try:
                response = client.post(
                    endpoint,
                    files={"input": (path.name, pdf, "application/pdf")},
                    data=FULLTEXT_FORM,
                    headers={"Accept": "application/xml"},
                )
            except httpx.ConnectError as exc:
                raise GrobidError(
                    f"GROBID server at {base} unreachable: {_reason(exc)}; {START_HINT}"
                ) from None
            except httpx.TimeoutException:
                raise GrobidError(
                    f"GROBID server at {base} did not answer within {timeout:g} s for {path}; "
                    "raise the timeout or check the server's load"
                ) from None
            except httpx.HTTPError as exc:
                raise GrobidError(f"GROBID server at {base} failed: {exc}") from None

            if response.status_code == 503 and attempt < retries:
                sleep(backoff * 2**attempt)
                attempt += 1
                continue
            return _tei_from(response, base, path, attempt)


def _tei_from(response: httpx.Response, base: str, path: Path, attempt: int) -> bytes:
    status = response.status_code
    if status == 200:
        body = response.content
        if b"<TEI" not in body[:2000]:
            raise GrobidError(
                f"GROBID server at {base} answered 200 for {path} but not with TEI XML; "
                "is the URL a GROBID server?"
            )
        return body
    if status == 503:
        raise GrobidError(
            f"GROBID server at {base} still busy (503) after {attempt + 1} attempts for {path}; "
            "try again later or give the server more threads"
        )
    if status == 204:
        raise GrobidError(f"GROBID found no content in {path} (204): is it a scanned image PDF?")
    detail = response.text.strip().splitlines()[0][:200] if response.text.strip() else ""
    raise GrobidError(
        f"GROBID server at {base} refused {path}: HTTP {status}"
        + (f" ({detail})" if detail else "")
    )


def _reason(exc: httpx.ConnectError) -> str:
    text = str(exc).lower()
    if "refused" in text:
        return "connection refused"
    if "name or service not known" in text or "nodename nor servname" in text:
        return "unknown host"
    return str(exc) or type(exc).__name__
