"""Scan a connected repository for modules with as few API calls as possible.

Every top-level directory holding ``.tf`` files is a candidate module. The scan reads the branch head
conditionally (an unchanged repository costs one request), lists the tree once, and fetches a file only
when its blob SHA has never been parsed: parses are cached by blob SHA in the database. Network calls
happen outside any transaction; the scan's state is read and written in short units of work, and one scan
per repository runs at a time. Blobs are fetched several at a time (see :class:`core.repos.reader.GitHubReader`)
and parsed in the scan's thread as they arrive. Parses are committed as they are made, so a scan stopped by
GitHub (its rate limit) keeps them and the next scan fetches only the rest. Each candidate is checked against
the module policy (:mod:`core.modules.policy`); its provisioners are kept aside for the catalog to judge.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.errors import Conflict, NotFound, Unavailable
from core.modules import parser
from core.modules import policy as module_policy
from core.repos.connections import repository_token
from core.repos.reader import LOCAL_PREFIX, GitHubReader, LocalReader, RepoReader, Snapshot, TreeFile
from core.services import Services
from core.wording import count
from storage.db import Database
from storage.models import ParsedBlob, RepoConnection, RepoScan, RepoScanStatus

STALE_SCAN = timedelta(minutes=15)
COMMIT_EVERY_FILES, COMMIT_EVERY_SECONDS = 50, 2.0
SHOWN_PROBLEMS = 20


@dataclass(frozen=True)
class Candidate:
    """One top-level directory: its ``.tf`` files by blob SHA, and its module spec or the problem found.

    ``provisioners`` lists the module's provisioners ("file line N: reason"): a partner module holding any is
    refused unless an admin allows them (the catalog decides, with the setting of the moment).
    """

    name: str
    files: dict[str, str]
    spec: dict[str, Any] | None = None
    problem: str = ""
    provisioners: tuple[str, ...] = ()

    @property
    def valid(self) -> bool:
        """Whether the directory holds a module (a spec was read from it)."""
        return self.spec is not None

    def to_json(self) -> dict[str, Any]:
        """The candidate as the scan cache keeps it, stamped with the parser version that read it."""
        return {"name": self.name, "files": self.files, "spec": self.spec, "problem": self.problem,
                "provisioners": list(self.provisioners), "parser": parser.PARSER_VERSION}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Candidate:
        """A candidate from the scan cache (see :meth:`to_json`)."""
        return cls(str(data["name"]), dict(data["files"]), data.get("spec"), str(data.get("problem") or ""),
                   tuple(data.get("provisioners") or ()))


@dataclass
class _Progress:
    """How far a scan's fetching got: files it had to fetch, and those parsed and committed."""

    needed: int = 0
    kept: int = 0


@dataclass(frozen=True)
class ScanResult:
    """What a scan found, and what it cost."""

    commit: str
    candidates: tuple[Candidate, ...]
    api_calls: int
    parsed_files: int
    unchanged: bool
    source: str = ""
    notes: tuple[str, ...] = field(default=())

    def candidate(self, name: str) -> Candidate | None:
        """The candidate called ``name``, or None."""
        return next((c for c in self.candidates if c.name == name), None)


def source_key(conn: RepoConnection) -> str:
    """``provider:owner/name@branch``: a cached scan of another source or branch is not reused."""
    return f"{conn.provider}:{conn.full_name}@{conn.default_branch}"


def scan(db: Database, services: Services, connection_id: int, now: datetime) -> ScanResult:
    """Scan the connection's repository at its branch head; returns the candidates (cached when unchanged).

    When GitHub stops the scan (rate limit, outage), the error says so and how many files are kept.
    """
    with _single_flight(db, services, connection_id, now) as state:
        conn, token, etag, stored = state
        progress = _Progress()
        try:
            with _reader(services, conn, token) as reader:
                snapshot, new_etag = reader.snapshot(etag)
                if snapshot is None:
                    return _stored_result(stored, reader.calls)
                parses, parsed = _parse_all(db, reader, snapshot, progress)
                calls = reader.calls
        except Unavailable as error:
            raise _interrupted(error, progress) from None
    candidates = tuple(_candidate(name, files, parses) for name, files in _directories(snapshot).items())
    with db.unit_of_work() as session:
        row = session.scalars(select(RepoScan).where(RepoScan.connection_id == connection_id)).one()
        row.source, row.commit, row.ref_etag = source_key(conn), snapshot.commit, new_etag
        row.candidates = [c.to_json() for c in candidates]
        row.scanned_at, row.api_calls = now, calls
    return ScanResult(snapshot.commit, candidates, calls, parsed, False, source_key(conn))


def _interrupted(error: Unavailable, progress: _Progress) -> Unavailable:
    """The outside service's error, saying what the stopped scan keeps for the next one."""
    if not progress.needed:
        return error
    left = progress.needed - progress.kept
    kept = (f"{progress.kept} of the {count(progress.needed, 'file')} to read "
            f"{'was' if progress.kept == 1 else 'were'} read and {'is' if progress.kept == 1 else 'are'} kept; "
            f"the next scan reads only the other {left}.")
    return Unavailable(f"{error.message} {kept}", hint=error.hint, retry_at=error.retry_at)


def last_result(session: Session, connection_id: int) -> ScanResult | None:
    """The latest finished scan, without scanning."""
    row = session.scalars(select(RepoScan).where(RepoScan.connection_id == connection_id)).one_or_none()
    return _stored_result(row, 0) if row is not None and row.scanned_at is not None else None


@contextmanager
def _single_flight(db: Database, services: Services, connection_id: int, now: datetime,
                   ) -> Iterator[tuple[RepoConnection, str, str, RepoScan | None]]:
    """Mark the repository as being scanned (refusing a second scan), and clear the mark afterwards."""
    with db.unit_of_work() as session:
        conn = session.get(RepoConnection, connection_id)
        if conn is None or not conn.full_name:
            raise NotFound("No repository is connected.", hint="Run `/rad connect` and pick one first.")
        token = repository_token(session, services, conn) if conn.provider == "github" else ""
        row = session.scalars(select(RepoScan).where(RepoScan.connection_id == connection_id)
                              .with_for_update()).one_or_none()
        if row is None:
            row = RepoScan(connection_id=connection_id)
            session.add(row)
        elif row.status == RepoScanStatus.RUNNING and row.started_at and now - row.started_at < STALE_SCAN:
            raise Conflict("This repository is being scanned right now.", hint="Try again in a moment.")
        etag = row.ref_etag if row.source == source_key(conn) and row.scanned_at and _current(row) else ""
        row.status, row.started_at = RepoScanStatus.RUNNING, now
        session.flush()
        session.expunge(conn)
        stored = _detached_copy(row)
    try:
        yield conn, token, etag, stored
    finally:
        with db.unit_of_work() as session:
            done = session.scalars(select(RepoScan).where(RepoScan.connection_id == connection_id)).one()
            done.status = RepoScanStatus.IDLE


@contextmanager
def _reader(services: Services, conn: RepoConnection, token: str) -> Iterator[RepoReader]:
    if conn.provider == "local":
        yield LocalReader(Path(conn.full_name.removeprefix(LOCAL_PREFIX)))
        return
    with GitHubReader(services.github(), token, conn.full_name, conn.default_branch) as reader:
        yield reader


def _directories(snapshot: Snapshot) -> dict[str, list[TreeFile]]:
    """Top-level directories that hold ``.tf`` files, with those files, by name."""
    found: dict[str, list[TreeFile]] = {}
    for file in snapshot.files:
        if file.name.endswith(".tf"):
            found.setdefault(file.directory, []).append(file)
    return dict(sorted(found.items(), key=lambda item: item[0].lower()))


def _parse_all(db: Database, reader: RepoReader, snapshot: Snapshot, progress: _Progress,
               ) -> tuple[dict[str, parser.FileParse], int]:
    """Every ``.tf`` file's parse by blob SHA: cached, or fetched, parsed and committed as the scan goes.

    A file over the size limit is judged by its tree size and never fetched; nor is any file of a directory
    with too many files. Returns the parses and how many files were fetched.
    """
    wanted = {f.sha: f for files in _directories(snapshot).values()
              if module_policy.file_count_violation(f.name for f in files) is None for f in files}
    with db.unit_of_work() as session:
        rows = session.scalars(select(ParsedBlob).where(ParsedBlob.sha.in_(list(wanted))))
        parses = {row.sha: parse for row in rows if (parse := parser.FileParse.from_cache(row.result)) is not None}
    missing = [file for sha, file in wanted.items() if sha not in parses]
    parses.update({f.sha: parser.too_large(f.name, f.size) for f in missing if f.size > parser.MAX_FILE_BYTES})
    fetch = [file for file in missing if file.size <= parser.MAX_FILE_BYTES]
    progress.needed = len(fetch)
    batch: dict[str, parser.FileParse] = {}
    since = time.monotonic()
    try:
        for file, content in reader.read_many(fetch):  # several at a time from GitHub, as they arrive
            batch[file.sha] = parser.parse_file(file.name, content)
            if len(batch) >= COMMIT_EVERY_FILES or time.monotonic() - since >= COMMIT_EVERY_SECONDS:
                _keep(db, batch, parses, progress)
                since = time.monotonic()
    finally:  # on a failure too: what was read is kept for the next scan
        _keep(db, batch, parses, progress)
    return parses, len(fetch)


def _keep(db: Database, batch: dict[str, parser.FileParse], parses: dict[str, parser.FileParse],
          progress: _Progress) -> None:
    """Commit a batch of fresh parses (one short transaction) and empty it."""
    if not batch:
        return
    _cache(db, batch)
    parses.update(batch)
    progress.kept += len(batch)
    batch.clear()


def _cache(db: Database, parses: Mapping[str, parser.FileParse]) -> None:
    """Store fresh parses; a row from an older parser version is replaced, one cached by a concurrent scan kept."""
    with db.unit_of_work() as session:
        for sha, parse in parses.items():
            try:
                with session.begin_nested():
                    session.merge(ParsedBlob(sha=sha, result=parse.to_json()))
            except IntegrityError:
                pass  # another scan cached the same blob first


def _candidate(name: str, files: list[TreeFile], parses: Mapping[str, parser.FileParse]) -> Candidate:
    shas = {f.name: f.sha for f in sorted(files, key=lambda f: f.name)}
    reason = parser.valid_name(name)
    if reason:
        return Candidate(name, shas, problem=reason)
    too_many = module_policy.file_count_violation(shas)
    if too_many is not None:
        return Candidate(name, shas, problem=str(too_many))
    by_name = {f.name: parses[f.sha] for f in files}
    result = parser.assemble(name, by_name)
    problems = [] if isinstance(result, parser.ModuleSpec) else list(result.problems)
    problems += [v.as_problem() for v in module_policy.rule_violations(by_name, allow_provisioners=True)]
    provisioners = tuple(str(v.as_problem()) for v in module_policy.provisioner_violations(by_name))
    if problems or not isinstance(result, parser.ModuleSpec):
        return Candidate(name, shas, problem=_listed(problems), provisioners=provisioners)
    return Candidate(name, shas, spec=result.to_json(), provisioners=provisioners)


def _listed(problems: Sequence[parser.ParseProblem]) -> str:
    """Problems one per line, the first :data:`SHOWN_PROBLEMS` of them."""
    lines = [str(problem) for problem in problems[:SHOWN_PROBLEMS]]
    if len(problems) > SHOWN_PROBLEMS:
        lines.append(f"… and {len(problems) - SHOWN_PROBLEMS} more")
    return "\n".join(lines)


def _current(row: RepoScan) -> bool:
    """Whether a stored scan's candidates were judged by this parser and policy (else the scan is redone)."""
    return all(c.get("parser") == parser.PARSER_VERSION for c in row.candidates)


def _stored_result(row: RepoScan | None, calls: int) -> ScanResult:
    if row is None:
        return ScanResult("", (), calls, 0, True)
    candidates = tuple(Candidate.from_json(c) for c in row.candidates)
    return ScanResult(row.commit, candidates, calls, 0, True, row.source)


def _detached_copy(row: RepoScan) -> RepoScan:
    return RepoScan(connection_id=row.connection_id, source=row.source, commit=row.commit, ref_etag=row.ref_etag,
                    candidates=list(row.candidates), scanned_at=row.scanned_at)
