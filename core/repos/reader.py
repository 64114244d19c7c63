"""Read a module repository the cheap way: the branch head (conditional), one tree listing, and blobs.

A reader lists the files of every top-level directory (``dir/file``) at the branch head and reads files
by their git blob SHA. Two readers: GitHub (through PyGithub, with ``If-None-Match`` on the branch ref,
so an unchanged repository costs one request that does not count against the rate limit; blobs are read
several at a time, paced within GitHub's limits by :mod:`core.repos.pacing`) and a local folder.
"""

from __future__ import annotations

import base64
import hashlib
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import CancelledError, Future, ThreadPoolExecutor, as_completed
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import quote

from core.errors import InvalidInput, NotFound
from core.modules.parser import MAX_FILE_BYTES
from core.network import assert_no_transaction
from core.repos.pacing import PacerStopped, RequestPacer

if TYPE_CHECKING:  # PyGithub is imported when GitHub is first used, not by every process
    from github import Github

    from core.repos.github import GitHubClient

LOCAL_PREFIX = "local:"
LISTED_UNREAD_BYTES = MAX_FILE_BYTES  # a local file larger than any module may hold is listed, never read


@dataclass(frozen=True)
class TreeFile:
    """A file of a top-level directory: ``path`` is ``dir/name``."""

    path: str
    sha: str
    size: int

    @property
    def directory(self) -> str:
        """The top-level directory the file is in."""
        return self.path.split("/", 1)[0]

    @property
    def name(self) -> str:
        """The file's name within its directory."""
        return self.path.split("/", 1)[1]


@dataclass(frozen=True)
class Snapshot:
    """The repository at one commit: its top-level directories' files."""

    commit: str
    files: tuple[TreeFile, ...]


class RepoReader(Protocol):
    """What the scanner needs from a repository; ``calls`` counts the requests made."""

    calls: int

    def snapshot(self, etag: str) -> tuple[Snapshot | None, str]:
        """The head's snapshot and the new ETag, or None when the head is unchanged since ``etag``."""
        ...

    def read(self, file: TreeFile) -> bytes:
        """The content of one file of the snapshot."""
        ...

    def read_many(self, files: Sequence[TreeFile]) -> Iterator[tuple[TreeFile, bytes]]:
        """Each file with its content, as they arrive; on a failure, the reads done come first, then the error."""
        ...


def git_blob_sha(content: bytes) -> str:
    """The SHA git gives a file's content."""
    return hashlib.sha1(b"blob %d\0" % len(content) + content, usedforsecurity=False).hexdigest()


def top_level_file(path: str) -> bool:
    """Whether ``path`` is a file directly inside a top-level directory (not in a hidden one)."""
    return path.count("/") == 1 and not path.startswith(".")


class GitHubReader(AbstractContextManager["GitHubReader"]):
    """Reads a GitHub repository's branch: one PyGithub client for the scan, one more per blob-reading thread.

    :meth:`read_many` reads blobs ``client.read_workers`` at a time (a PyGithub client serves one thread at a
    time, so each thread gets its own), all paced by one :class:`RequestPacer`: at most
    ``client.read_per_minute`` a minute, and every thread waits out a rate limit's ``Retry-After`` together.
    """

    def __init__(self, client: GitHubClient, token: str, full_name: str, branch: str) -> None:
        self.client, self.full_name, self.branch = client, full_name, branch
        self.calls = 0
        self._token = token
        self._lock = threading.Lock()
        self._local = threading.local()
        self._stack = ExitStack()
        self._gh: Github = self._stack.enter_context(client.session(token, f"read {full_name}", full_name))
        self._base = f"/repos/{quote(full_name)}"
        self._pacer: RequestPacer | None = None

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any) -> None:
        """Close the clients; a GitHub failure inside the ``with`` comes out as the client's ``RadError``."""
        self._stack.__exit__(exc_type, exc, tb)

    def _get(self, path: str, *, etag: str = "", gh: Github | None = None, **params: Any) -> tuple[dict[str, Any], Any]:
        with self._lock:
            self.calls += 1
        headers = {"If-None-Match": etag} if etag else None
        return (gh or self._gh).requester.requestJsonAndCheck("GET", self._base + path, parameters=params or None,
                                                              headers=headers)

    def snapshot(self, etag: str) -> tuple[Snapshot | None, str]:
        """The branch head's top-level files and the ref's new ETag; None when the head is unchanged since ``etag``."""
        headers, ref = self._get(f"/git/ref/heads/{quote(self.branch)}", etag=etag)
        new_etag = str(headers.get("etag") or "")
        if ref is None:  # 304 Not Modified: the branch did not move
            return None, new_etag or etag
        commit = str(ref["object"]["sha"])
        _, tree = self._get(f"/git/trees/{commit}", recursive="1")
        entries = list(tree.get("tree") or [])
        if tree.get("truncated"):
            entries = list(self._walk_top_level(commit))
        files = tuple(TreeFile(str(e["path"]), str(e["sha"]), int(e.get("size") or 0))
                      for e in entries if e.get("type") == "blob" and top_level_file(str(e["path"])))
        return Snapshot(commit, files), new_etag

    def _walk_top_level(self, commit: str) -> Iterator[dict[str, Any]]:
        """A tree too big for one recursive listing: the root, then each top-level directory."""
        _, root = self._get(f"/git/trees/{commit}")
        for entry in root.get("tree") or []:
            if entry.get("type") == "tree":
                _, sub = self._get(f"/git/trees/{entry['sha']}")
                for item in sub.get("tree") or []:
                    yield {**item, "path": f"{entry['path']}/{item['path']}"}

    def read(self, file: TreeFile) -> bytes:
        """The blob's content."""
        return self._read(file, self._gh)

    def _read(self, file: TreeFile, gh: Github) -> bytes:
        _, blob = self._get(f"/git/blobs/{file.sha}", gh=gh)
        return base64.b64decode(blob.get("content") or "")

    def read_many(self, files: Sequence[TreeFile]) -> Iterator[tuple[TreeFile, bytes]]:
        """The blobs, several at a time, as they arrive; the first failure stops the reads not yet started.

        The reads that succeeded are yielded before the failure is raised (a scan keeps them).
        """
        assert_no_transaction(f"GitHubReader (read {self.full_name})")
        workers = min(max(1, self.client.read_workers), len(files))
        if workers <= 1:
            for file in files:
                yield file, self.read(file)
            return
        pacer = RequestPacer(self.client.read_per_minute)
        failure: BaseException | None = None
        with ThreadPoolExecutor(workers, thread_name_prefix="rad-github-read") as pool:
            futures: dict[Future[bytes], TreeFile] = {pool.submit(self._pooled_read, f, pacer): f for f in files}
            try:
                for future in as_completed(futures):
                    try:
                        content = future.result()
                    except (CancelledError, PacerStopped):
                        continue
                    except Exception as error:
                        if failure is None:
                            failure = error
                            pacer.stop()
                            for waiting in futures:
                                waiting.cancel()
                        continue
                    yield futures[future], content
            finally:  # a failure, or the caller stopped early: start nothing more, let the reads in flight end
                pacer.stop()
                for waiting in futures:
                    waiting.cancel()
        if failure is not None:
            raise failure

    def _pooled_read(self, file: TreeFile, pacer: RequestPacer) -> bytes:
        """One blob from a pool thread, through this thread's own client (made on its first read)."""
        gh: Github | None = getattr(self._local, "gh", None)
        if gh is None:
            with self._lock:
                gh = self._stack.enter_context(
                    self.client.session(self._token, f"read {self.full_name}", self.full_name, pacer))
            self._local.gh = gh
        return self._read(file, gh)


class LocalReader:
    """Reads a folder on this machine as a repository (demos, tests, an admin's local platform modules).

    A file over :data:`LISTED_UNREAD_BYTES` is listed by its size and a stand-in SHA, never read: no module can
    use it, and a 50 MB file should not be read to say so.
    """

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.calls = 0
        if not self.root.is_dir():
            raise NotFound(f"The folder {root} does not exist.", hint="Check the path on the bot's machine.")

    def snapshot(self, etag: str) -> tuple[Snapshot | None, str]:
        """The folder's top-level files; None when they are unchanged since ``etag``.

        The commit (and the ETag) is a hash of the files' paths and SHAs.
        """
        files = []
        for directory in sorted(p for p in self.root.iterdir() if p.is_dir() and not p.name.startswith(".")):
            for path in sorted(p for p in directory.iterdir() if p.is_file()):
                files.append(_local_file(path, f"{directory.name}/{path.name}"))
        commit = hashlib.sha1("\n".join(f"{f.path} {f.sha}" for f in files).encode(),
                              usedforsecurity=False).hexdigest()
        if commit == etag:
            return None, etag
        return Snapshot(commit, tuple(files)), commit

    def read(self, file: TreeFile) -> bytes:
        """The file's content; InvalidInput when its path leads outside the folder."""
        path = (self.root / file.path).resolve()
        if self.root not in path.parents:
            raise InvalidInput(f"{file.path} is outside the repository folder.")
        return path.read_bytes()

    def read_many(self, files: Sequence[TreeFile]) -> Iterator[tuple[TreeFile, bytes]]:
        """The files one after the other (a local disk gains nothing from threads)."""
        for file in files:
            yield file, self.read(file)


def _local_file(path: Path, name: str) -> TreeFile:
    """A local file as a tree entry: its git blob SHA, or for a file too large to use, a stand-in from its stat."""
    stat = path.stat()
    if stat.st_size > LISTED_UNREAD_BYTES:
        stand_in = hashlib.sha1(f"unread {name} {stat.st_size} {stat.st_mtime_ns}".encode(),
                                usedforsecurity=False).hexdigest()
        return TreeFile(name, stand_in, stat.st_size)
    return TreeFile(name, git_blob_sha(path.read_bytes()), stat.st_size)
