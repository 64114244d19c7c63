"""A scan stopped by GitHub's rate limit keeps what it parsed, says when to retry, and the next one continues."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

import pytest
from github.Requester import HTTPRequestsConnectionClass, HTTPSRequestsConnectionClass, Requester
from sqlalchemy import delete, select

from commands.framework.dispatch import Dispatcher
from core.modules.parser import MAX_FILE_BYTES
from storage.db import Database, transaction_open
from storage.models import ParsedBlob
from tests.emulators.github import GitHubEmulator
from tests.integration.test_publish import ADMIN, PAT, connect, module_files, open_publish, reply, states

MODULES = 30  # two different files each


def repository() -> dict[str, str]:
    files: dict[str, str] = {}
    for n in range(MODULES):
        files.update({path: f"{text}# mod-{n:02}\n" for path, text in module_files(f"mod-{n:02}", cost=n).items()})
    return files


def blob_calls(github: GitHubEmulator) -> list[str]:
    return [c.path for c in github.calls() if "/git/blobs/" in c.path and c.status == 200]


def cached(db: Database) -> int:
    with db.unit_of_work() as session:
        return len(session.scalars(select(ParsedBlob.sha)).all())


def test_a_rate_limited_scan_keeps_its_parses_and_the_next_one_continues(dispatcher: Dispatcher,
                                                                         github: GitHubEmulator, db: Database) -> None:
    connect(dispatcher, github, PAT, "pat", "pat/modules", repository())
    github.exhaust_rate_limit_after("pat", 2 + 17, reset_in=1800)  # the ref, the tree and 17 blobs
    reset = datetime.fromtimestamp(math.ceil(github.bucket("pat").reset / 60) * 60, UTC)
    stopped = reply(dispatcher.run_text(PAT, "publish")).text
    assert f"rate limit is reached; try again after {reset:%H:%M} UTC" in stopped
    assert "17 of the 60 files to read were read and are kept; the next scan reads only the other 43" in stopped
    assert "error id" not in stopped and len(blob_calls(github)) == 17 and cached(db) == 17

    github.reset_rate_limit("pat")
    before = len(blob_calls(github))
    page, _ = open_publish(dispatcher, PAT)
    assert len(blob_calls(github)) - before == 43  # only what the first scan did not read
    assert f"*{MODULES} module folders*" in page.text and "43 files parsed" in page.text
    assert all(state.startswith("🆕 new") for state in states(page).values())
    assert cached(db) == 60
    assert len(set(blob_calls(github))) == 60  # no blob was fetched twice


def test_parses_are_committed_in_batches_as_the_scan_goes(dispatcher: Dispatcher, github: GitHubEmulator,
                                                          db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    connect(dispatcher, github, PAT, "pat", "pat/modules", repository())
    seen: list[int] = []
    original = github.respond

    def respond(method: str, target: str, headers: Any, raw: bytes) -> Any:
        if "/git/blobs/" in target:
            seen.append(cached(db))  # what another process could read while this scan is under way
        return original(method, target, headers, raw)

    monkeypatch.setattr(github, "respond", respond)
    github.latency = 0.05  # the last reads take a few round trips after the first batch of 50 is committed
    polled: list[int] = []
    done = threading.Event()

    def poll() -> None:  # another process reading the cache while the scan is under way
        while not done.is_set():
            polled.append(cached(db))
            time.sleep(0.01)

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    try:
        open_publish(dispatcher, PAT)
    finally:
        done.set()
        poller.join(5)
    assert len(seen) == 60 and seen[0] == 0 and seen == sorted(seen)
    assert any(0 < count < 60 for count in polled) and cached(db) == 60  # a batch of 50 committed before the end


class _RecordingConnection(HTTPRequestsConnectionClass):
    """PyGithub's own HTTP connection, noting in the requesting thread whether it holds a database transaction."""

    seen: ClassVar[list[tuple[str, bool]]] = []

    def getresponse(self) -> Any:
        self.seen.append((threading.current_thread().name, transaction_open()))
        return super().getresponse()


@pytest.fixture
def requests_seen() -> Iterator[list[tuple[str, bool]]]:
    """Each GitHub request as (thread name, transaction open in that thread), through PyGithub's connection hook."""
    _RecordingConnection.seen = []
    Requester.injectConnectionClasses(_RecordingConnection, HTTPSRequestsConnectionClass)
    yield _RecordingConnection.seen
    Requester.resetConnectionClasses()


def test_no_thread_waiting_on_github_holds_a_transaction(dispatcher: Dispatcher, github: GitHubEmulator, db: Database,
                                                         requests_seen: list[tuple[str, bool]]) -> None:
    """Blobs are read by a pool of threads while the scan's thread commits batches: no request waits in a
    transaction (a batch commit of the scan's thread may overlap other threads' requests, it never waits on one)."""
    connect(dispatcher, github, PAT, "pat", "pat/modules", repository())
    requests_seen.clear()
    github.exhaust_rate_limit_after("pat", 30)
    assert "rate limit" in reply(dispatcher.run_text(PAT, "publish")).text
    github.reset_rate_limit("pat")
    with db.unit_of_work() as session:  # forget the parses: the next scan reads all 60 and commits a batch of 50
        session.execute(delete(ParsedBlob))
    open_publish(dispatcher, PAT)
    assert len(requests_seen) > 90 and not any(open_ for _, open_ in requests_seen)
    assert any(name.startswith("rad-github-read") for name, _ in requests_seen)  # the pool's threads asked too


def test_a_huge_local_file_is_listed_by_its_size_and_never_read(dispatcher: Dispatcher, tmp_path: Path) -> None:
    for name, body in {**module_files("local-net"), **module_files("local-huge")}.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(body)
    with (tmp_path / "local-huge" / "blob.tf").open("wb") as sparse:
        sparse.truncate(50 << 20)  # 50 MB on paper, nothing written
    assert "is the folder" in reply(dispatcher.run_text(ADMIN, f"admin connect local {tmp_path}")).text
    page, _ = open_publish(dispatcher, ADMIN, "admin publish")
    huge = next(c for c in page.cards if c.title == "local-huge")
    assert "blob.tf: too large to read (50.0 MB; the limit is 1 MB)" in huge.text
    assert states(page)["local-net"].startswith("🆕 new")
    assert (tmp_path / "local-huge" / "blob.tf").stat().st_size > MAX_FILE_BYTES
