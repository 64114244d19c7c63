"""A scan reads blobs several at a time, never more than its pool, and backs off together on a rate limit."""

from __future__ import annotations

from commands.framework.dispatch import Dispatcher
from core.repos.github import GitHubClient
from tests.emulators.github import GitHubEmulator
from tests.integration.test_publish import PAT, connect, module_files, open_publish
from tests.integration.test_scan_progress import blob_calls

MODULES = 30  # 60 distinct files
BLOBS = "/repos/pat/modules/git/blobs/"


def repository() -> dict[str, str]:
    files: dict[str, str] = {}
    for n in range(MODULES):
        files.update({path: f"{text}# c-{n:02}\n" for path, text in module_files(f"c-{n:02}", cost=n).items()})
    return files


def test_blobs_are_read_concurrently_within_the_pool(dispatcher: Dispatcher, github: GitHubEmulator) -> None:
    connect(dispatcher, github, PAT, "pat", "pat/modules", repository())
    github.latency, github.peak_in_flight = 0.02, 0
    page, _ = open_publish(dispatcher, PAT)
    assert "60 files parsed" in page.text and len(set(blob_calls(github))) == 60
    assert 2 <= github.peak_in_flight <= GitHubClient.read_workers


def test_a_secondary_rate_limit_pauses_every_reader(dispatcher: Dispatcher, github: GitHubEmulator) -> None:
    """GitHub answers 403 with ``Retry-After: 1``: the pool's other threads start nothing for that second."""
    connect(dispatcher, github, PAT, "pat", "pat/modules", repository())
    github.latency = 0.005
    github.secondary_rate_limit(times=1, retry_after=1, path=BLOBS)
    page, _ = open_publish(dispatcher, PAT)
    assert "60 files parsed" in page.text and len(set(blob_calls(github))) == 60
    blobs = [c for c in github.calls() if c.path.startswith(BLOBS)]
    limited = next(c.at for c in blobs if c.status == 403)
    soon = [c for c in blobs if c.status == 200 and limited < c.at < limited + 0.9]
    # only reads on the wire, or started before the 403 reached its thread (without the pause: all 52 others)
    assert len(soon) < 2 * GitHubClient.read_workers
    assert len(blob_calls(github)) == 60  # the refused read was retried once, nothing read twice
