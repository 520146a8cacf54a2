"""Files on disk -> stored, classified citation statements.

`process` is the pure per-file core (bytes -> parsed, extracted, classified article); `ingest`
is the edge: it finds files, fans `process_file` out to workers and writes from one process.
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
import time
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from citelens.classify.base import Classifier, ClassifyInput
from citelens.errors import CitelensError, InputError, ModelError, ParseError
from citelens.extract import extract
from citelens.model import Document, Statement
from citelens.parse.jats import parse_jats
from citelens.parse.tei import parse_tei
from citelens.parse.xmlsafe import load_xml
from citelens.store.base import ResolveSummary, Store
from citelens.store.rows import citing_identity

XML_SUFFIXES = (".xml", ".nxml")  # ".tei.xml" is covered by ".xml"
PDF_SUFFIX = ".pdf"
CLASSIFY_BATCH = 256
# Futures in flight per worker: enough to keep workers busy, few enough that parsed articles
# waiting for the single writer never add up to the corpus.
IN_FLIGHT_PER_WORKER = 4


@dataclass(slots=True)
class ProcessedArticle:
    """One file parsed, extracted and classified, ready for the store's single writer."""

    path: str
    sha256: str
    document: Document
    statements: list[Statement]


@dataclass(frozen=True, slots=True)
class Failure:
    """A file that could not be ingested, and why (one line)."""

    path: str
    reason: str


@dataclass(slots=True)
class IngestSummary:
    files: int = 0  # files discovered
    skipped: int = 0  # files unchanged since their last ingest
    # Citing work key -> (statements, references) of its last save in this run. Keyed by work
    # so that two files of one article (a JATS and a TEI of the same paper) count once.
    saved: dict[str, tuple[int, int]] = field(default_factory=dict)
    # Files not stored because another file of the same article is kept: the later one in
    # path order, or the one the index already holds when it is part of this run.
    superseded: int = 0
    resolve: ResolveSummary | None = None  # the whole index after the closing resolve pass
    failures: list[Failure] = field(default_factory=list)
    seconds: float = 0.0  # wall time of the run, resolve included

    @property
    def articles(self) -> int:
        return len(self.saved)

    @property
    def statements(self) -> int:
        return sum(statements for statements, _ in self.saved.values())

    @property
    def references(self) -> int:
        return sum(references for _, references in self.saved.values())

    @property
    def resolved_share(self) -> float | None:
        if self.resolve is None or self.resolve.references == 0:
            return None
        return self.resolve.resolved / self.resolve.references


# --- pure core ---------------------------------------------------------------------------------

_BOMS = ((b"\xef\xbb\xbf", "utf-8"), (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be"))
_SKIPPABLE = re.compile(r"<\?.*?\?>|<!--.*?-->|<!DOCTYPE[^\[>]*(\[.*?\])?\s*>|\s+", re.S)
_TAG = re.compile(r"<([A-Za-z_][\w.\-]*:)?([A-Za-z_][\w.\-]*)")


def detect_format(data: bytes) -> str | None:
    """Name the parser for these bytes from their root element: "jats", "tei", or None.

    None means the root could not be seen (empty, not XML, odd encoding): the JATS parser's
    safe loader then names the problem. A readable root that is neither raises ParseError.
    """
    head = data[:8192]
    text = None
    for bom, encoding in _BOMS:
        if head.startswith(bom):
            text = head[len(bom) :].decode(encoding, errors="ignore")
            break
    if text is None:
        # Latin-1 never fails and keeps ASCII tag names: enough to read one element name.
        text = head.decode("latin-1")
    pos = 0
    while True:
        skip = _SKIPPABLE.match(text, pos)
        if not skip or skip.end() == pos:
            break
        pos = skip.end()
    tag = _TAG.match(text, pos)
    if not tag:
        return None
    root = tag.group(2)
    if root == "article":
        return "jats"
    if root in ("TEI", "teiCorpus"):
        return "tei"
    # Unsafe or malformed bytes are the bigger problem: let the safe loader name it first.
    load_xml(data)
    raise ParseError(
        f"not an article: root element <{root}>, expected JATS <article> or GROBID TEI <TEI>"
    )


def classify_statements(statements: Sequence[Statement], classifier: Classifier) -> None:
    """Label each statement for its own cited reference, in batches."""
    for start in range(0, len(statements), CLASSIFY_BATCH):
        batch = statements[start : start + CLASSIFY_BATCH]
        inputs = [
            ClassifyInput(
                text=s.text,
                before=s.before,
                after=s.after,
                target=(s.callouts[0].start, s.callouts[0].end) if s.callouts else None,
                section=s.section_type.value,
            )
            for s in batch
        ]
        predictions = classifier.predict(inputs)
        if len(predictions) != len(batch):
            raise CitelensError(
                f"classifier {classifier.version} returned {len(predictions)} predictions "
                f"for {len(batch)} statements"
            )
        for statement, prediction in zip(batch, predictions, strict=True):
            statement.label = prediction.label
            statement.confidence = prediction.confidence
            statement.model_version = classifier.version


def _one_line(message: str) -> str:
    return " ".join(message.split())


def process(
    path_name: str,
    data: bytes,
    classifier: Classifier | None,
    *,
    source_sha256: str | None = None,
) -> ProcessedArticle:
    """Parse, extract and classify one article's bytes (JATS or TEI, told by the root element).

    `source_sha256` overrides the digest of `data` when the bytes were derived from another
    file (a PDF turned into TEI): the skip-unchanged check compares the file's own digest.
    Raises InputError naming `path_name` and the problem.
    """
    digest = source_sha256 or hashlib.sha256(data).hexdigest()
    try:
        document = parse_tei(data) if detect_format(data) == "tei" else parse_jats(data)
    except ParseError as exc:
        raise InputError(path_name, _one_line(str(exc))) from exc
    statements = extract(document)
    if classifier is not None:
        classify_statements(statements, classifier)
    return ProcessedArticle(path_name, digest, document, statements)


# --- per-file work unit (runs in a worker process, or on a Dask worker) ------------------------

# Per process: classifiers loaded by name (a model loads once per worker, not per file), and
# the classifier a pool's initializer gave this worker.
_loaded_classifiers: dict[str, Classifier] = {}
_pool_classifier: Classifier | str | None = None


def _init_worker(classifier: Classifier | str | None) -> None:
    global _pool_classifier
    _pool_classifier = classifier
    # N worker processes share the cores: one math thread each for the encoder, not N each.
    os.environ["OMP_NUM_THREADS"] = "1"
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(1)


def _worker_classifier(spec: Classifier | str | None) -> Classifier | None:
    """Load a named classifier once per process; pass objects (and None) through."""
    if not isinstance(spec, str):
        return spec
    if spec not in _loaded_classifiers:
        from citelens.classify import load_classifier

        _loaded_classifiers[spec] = load_classifier(spec)
    return _loaded_classifiers[spec]


def usable_classifier(name: str) -> tuple[str, str | None]:
    """The classifier name to ingest with, and a warning when "default" fell back.

    When the shipped "default" model cannot be loaded (its encoder needs the `model` extra),
    ingest still runs, on the lexical model alone or else the cue-phrase baseline, and says so.
    Any other name that cannot load raises ModelError.
    """
    try:
        _worker_classifier(name)
    except ModelError as exc:
        if name != "default":
            raise
        for fallback, what in (("lexical", "the lexical model alone"),
                               ("baseline", "the cue-phrase baseline")):
            try:
                _worker_classifier(fallback)
            except ModelError:
                continue
            return fallback, f"{_one_line(str(exc))}; using {what} instead"
        raise
    return name, None


def process_file(
    path: str,
    classifier: Classifier | str | None = None,
    grobid_url: str | None = None,
    sha256: str | None = None,
) -> ProcessedArticle | Failure:
    """Read one file and `process` it; every problem comes back as a Failure, never raised.

    Module-level and argument-pure so that a process pool or a `distributed` client can map it.
    Failures are returned rather than raised because InputError does not survive pickling.
    """
    if classifier is None:
        classifier = _pool_classifier
    try:
        model = _worker_classifier(classifier)
        if path.lower().endswith(PDF_SUFFIX):
            if not grobid_url:
                return Failure(path, "a PDF needs a GROBID server: pass --grobid URL")
            from citelens.parse.grobid import pdf_to_tei

            source_digest = sha256 or _file_sha256(path)
            data = pdf_to_tei(path, grobid_url)
            return process(path, data, model, source_sha256=source_digest)
        with open(path, "rb") as handle:
            data = handle.read()
        return process(path, data, model, source_sha256=sha256)
    except InputError as exc:
        return Failure(path, exc.problem)
    except CitelensError as exc:
        return Failure(path, _one_line(str(exc)))
    except OSError as exc:
        return Failure(path, f"cannot read: {exc.strerror or exc}")
    except Exception as exc:  # a bug on one odd file must not stop the run; it is reported
        return Failure(path, f"internal error (please report): {type(exc).__name__}: {exc}")


# --- edge: discovery, fan-out, single writer ---------------------------------------------------


def _file_sha256(path: str) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def discover(paths: Iterable[str | os.PathLike[str]], *, pdf: bool = False) -> list[str]:
    """Article files under `paths`: folders recursively (*.xml, *.nxml; *.pdf when `pdf`),
    files as given. Sorted, absolute and de-duplicated; a missing path raises InputError."""
    suffixes = (*XML_SUFFIXES, PDF_SUFFIX) if pdf else XML_SUFFIXES
    found: dict[str, None] = {}
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                if child.is_file() and child.name.lower().endswith(suffixes):
                    found[str(child.resolve())] = None
        elif path.is_file():
            found[str(path.resolve())] = None
        else:
            raise InputError(str(raw), "no such file or folder")
    return list(found)


def known_sources(store: Store) -> dict[str, tuple[str, str]]:
    """sha256 -> (work key, source path) of every source file whose article is in the index."""
    with store.reader() as conn:
        rows = conn.execute(
            "SELECT source_sha256, key, source_path FROM works"
            " WHERE has_full_text = 1 AND source_sha256 IS NOT NULL"
        )
        return {sha: (key, path) for sha, key, path in rows}


def citing_key(article: ProcessedArticle) -> str:
    """The citing work's identity, by the very rule the stores save it under."""
    return citing_identity(article.document.meta, article.sha256)[0]


def _ordered_results(
    executor: Executor, jobs: Iterator[tuple[str, str | None]], window: int, **kwargs: Any
) -> Iterator[ProcessedArticle | Failure]:
    """Submit jobs with at most `window` in flight and yield results in submission order."""
    pending: deque[Future[ProcessedArticle | Failure]] = deque()
    for path, digest in jobs:
        pending.append(executor.submit(process_file, path, sha256=digest, **kwargs))
        if len(pending) >= window:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


def ingest(
    paths: Iterable[str | os.PathLike[str]],
    store: Store,
    *,
    classifier: Classifier | str | None,
    grobid_url: str | None = None,
    workers: int = 1,
    force: bool = False,
    progress: bool = True,
    scheduler: str | None = None,
) -> IngestSummary:
    """Ingest every article file under `paths` into `store`, then resolve references.

    Files whose sha256 is already in the index are skipped unless `force`; a bad file is a
    Failure in the summary and never stops the run. `workers` > 1 parses, extracts and
    classifies in a process pool; `scheduler` ("tcp://host:port") sends that work to a Dask
    cluster instead (classifier by name, files readable by the workers). Writes stay here.
    """
    started = time.perf_counter()
    files = discover(paths, pdf=grobid_url is not None)
    summary = IngestSummary(files=len(files))
    known = {} if force else known_sources(store)
    seen = set(known)
    # Two files of one article (a JATS and a TEI of the same paper): the one the index holds
    # stays when it is part of this run too, so that re-running the same folders changes
    # nothing. Without it the unchanged holder is skipped and its sibling overwrites it.
    in_run = set(files)
    holders = {key: path for key, path in known.values() if path in in_run}
    bar = tqdm(
        total=len(files), unit="file", file=sys.stderr, disable=not progress, dynamic_ncols=True
    )

    def jobs() -> Iterator[tuple[str, str | None]]:
        for path in files:
            try:
                digest = _file_sha256(path)
            except OSError as exc:
                summary.failures.append(Failure(path, f"cannot read: {exc.strerror or exc}"))
                bar.update(1)
                continue
            if digest in seen:
                summary.skipped += 1
                bar.update(1)
                continue
            seen.add(digest)
            yield path, digest

    try:
        for outcome in _outcomes(jobs(), classifier, grobid_url, workers, scheduler):
            if isinstance(outcome, Failure):
                summary.failures.append(outcome)
            elif holders.get(citing_key(outcome), outcome.path) != outcome.path:
                summary.superseded += 1
            else:
                _save(store, outcome, summary)
            bar.update(1)
    finally:
        bar.close()
    summary.resolve = store.resolve()
    summary.seconds = time.perf_counter() - started
    return summary


def _outcomes(
    jobs: Iterator[tuple[str, str | None]],
    classifier: Classifier | str | None,
    grobid_url: str | None,
    workers: int,
    scheduler: str | None,
) -> Iterator[ProcessedArticle | Failure]:
    if scheduler:
        if not isinstance(classifier, str | None):
            raise CitelensError("with --scheduler the classifier must be given by name")
        try:
            from distributed import Client
        except ModuleNotFoundError as exc:
            raise CitelensError(
                "--scheduler needs the 'distributed' package: pip install 'citelens[scale]'"
            ) from exc
        with Client(scheduler) as client:
            executor = client.get_executor()
            window = IN_FLIGHT_PER_WORKER * max(1, len(client.scheduler_info()["workers"]))
            yield from _ordered_results(
                executor, jobs, window, classifier=classifier, grobid_url=grobid_url
            )
        return
    if workers <= 1:
        model = _worker_classifier(classifier)
        for path, digest in jobs:
            yield process_file(path, model, grobid_url, digest)
        return
    with ProcessPoolExecutor(
        max_workers=workers, initializer=_init_worker, initargs=(classifier,)
    ) as pool:
        yield from _ordered_results(
            pool, jobs, IN_FLIGHT_PER_WORKER * workers, grobid_url=grobid_url
        )


def _save(store: Store, article: ProcessedArticle, summary: IngestSummary) -> None:
    try:
        saved = store.save_article(
            article.document,
            article.statements,
            source_path=article.path,
            source_sha256=article.sha256,
        )
    except CitelensError as exc:
        # One article the store refuses (its transaction rolled back) is that file's failure.
        summary.failures.append(Failure(article.path, f"not stored: {_one_line(str(exc))}"))
        return
    if saved.key in summary.saved:
        summary.superseded += 1
    summary.saved[saved.key] = (saved.statements, saved.references)
