"""The git object model behind the GitHub emulator.

Blobs, trees and commits are stored under the SHA git itself would compute, so clients can compare
them with real checkouts. A ``Repository`` holds branches and pull requests over such a store and is
filled from a dict of files or a folder on disk; the merge helpers do a file-level three-way merge.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import re
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.emulators.http_base import Json

TREE_MODE, FILE_MODE, EXEC_MODE = "040000", "100644", "100755"


def object_sha(kind: str, data: bytes) -> str:
    """The git object id: sha1 of ``<kind> <length>\\0<data>``."""
    return hashlib.sha1(f"{kind} {len(data)}\0".encode() + data).hexdigest()


def iso(when: datetime) -> str:
    """``when`` in UTC as GitHub writes timestamps (``2025-11-03T09:00:00Z``)."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- git objects -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class LargeFile:
    """A file of ``size`` zero bytes, committed by its SHA and size without being held in memory."""

    size: int


def zeros_sha(size: int) -> str:
    """The git blob SHA of ``size`` zero bytes, hashed in chunks (nothing of that size is allocated)."""
    digest = hashlib.sha1(f"blob {size}\0".encode())
    chunk = bytes(min(size, 1 << 20))
    for _ in range(size // len(chunk) if chunk else 0):
        digest.update(chunk)
    digest.update(bytes(size % len(chunk)) if chunk else b"")
    return digest.hexdigest()


@dataclass(frozen=True)
class Entry:
    """One entry of a git tree."""

    name: str
    mode: str
    sha: str

    @property
    def type(self) -> str:
        """``tree`` or ``blob``, from the mode."""
        return "tree" if self.mode == TREE_MODE else "blob"


@dataclass(frozen=True)
class Signature:
    """A commit's author or committer."""

    name: str
    email: str
    when: datetime

    def git(self) -> str:
        """The signature line of a git commit object."""
        return f"{self.name} <{self.email}> {int(self.when.timestamp())} +0000"

    def json(self) -> Json:
        """The REST shape (name, email, date)."""
        return {"name": self.name, "email": self.email, "date": iso(self.when)}


@dataclass(frozen=True)
class Commit:
    """A parsed git commit object."""

    sha: str
    tree: str
    parents: tuple[str, ...]
    message: str
    author: Signature
    committer: Signature


class GitStore:
    """Blobs, trees and commits keyed by their real git SHA."""

    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}
        self.large: dict[str, int] = {}  # blobs of zero bytes, by SHA: only their size is kept
        self.trees: dict[str, tuple[Entry, ...]] = {}
        self.commits: dict[str, Commit] = {}

    def put_blob(self, data: bytes) -> str:
        """Store a blob; returns its SHA."""
        sha = object_sha("blob", data)
        self.blobs[sha] = data
        return sha

    def put_large(self, file: LargeFile) -> str:
        """Store a large blob of zero bytes by its size alone; returns its SHA."""
        sha = zeros_sha(file.size)
        self.large[sha] = file.size
        return sha

    def size(self, sha: str) -> int:
        """A blob's size in bytes."""
        return self.large[sha] if sha in self.large else len(self.blobs[sha])

    def data(self, sha: str) -> bytes | None:
        """A blob's content (a large one is made only now), or None for an unknown SHA."""
        if sha in self.large:
            return bytes(self.large[sha])
        return self.blobs.get(sha)

    def put_tree(self, entries: list[Entry]) -> str:
        """Store a tree (entries in git's order); returns its SHA."""
        ordered = tuple(sorted(entries, key=lambda e: (e.name + "/" if e.type == "tree" else e.name).encode()))
        data = b"".join(f"{e.mode.lstrip('0')} {e.name}".encode() + b"\0" + bytes.fromhex(e.sha) for e in ordered)
        sha = object_sha("tree", data)
        self.trees[sha] = ordered
        return sha

    def put_files(self, files: Mapping[str, tuple[str, str]]) -> str:
        """Write nested trees for ``{path: (mode, blob sha)}``; returns the root tree SHA."""
        children: dict[str, dict[str, tuple[str, str]]] = {}
        entries: list[Entry] = []
        for path, (mode, sha) in files.items():
            head, _, rest = path.partition("/")
            if rest:
                children.setdefault(head, {})[rest] = (mode, sha)
            else:
                entries.append(Entry(head, mode, sha))
        entries += [Entry(name, TREE_MODE, self.put_files(sub)) for name, sub in children.items()]
        return self.put_tree(entries)

    def put_commit(self, tree: str, parents: tuple[str, ...], message: str, author: Signature,
                   committer: Signature) -> str:
        """Store a commit; returns its SHA."""
        text = f"tree {tree}\n" + "".join(f"parent {p}\n" for p in parents)
        text += f"author {author.git()}\ncommitter {committer.git()}\n\n{message.rstrip()}\n"
        sha = object_sha("commit", text.encode())
        self.commits[sha] = Commit(sha, tree, parents, message.rstrip(), author, committer)
        return sha

    def walk(self, tree: str, prefix: str = "") -> Iterator[tuple[str, Entry]]:
        """Every entry below ``tree``, trees before their contents (like ``git ls-tree -r -t``)."""
        for entry in self.trees[tree]:
            yield prefix + entry.name, entry
            if entry.type == "tree":
                yield from self.walk(entry.sha, f"{prefix}{entry.name}/")

    def files(self, tree: str) -> dict[str, Entry]:
        """Every blob below ``tree`` by path."""
        return {path: e for path, e in self.walk(tree) if e.type == "blob"}

    def lookup(self, tree: str, path: str) -> Entry | None:
        """The entry at ``path`` ('' is the root tree itself)."""
        entry = Entry("", TREE_MODE, tree)
        for name in filter(None, path.strip("/").split("/")):
            if entry.type != "tree":
                return None
            entry = next((e for e in self.trees[entry.sha] if e.name == name), None)  # type: ignore[assignment]
            if entry is None:
                return None
        return entry

    def ancestors(self, sha: str) -> list[str]:
        """``sha`` and every commit reachable from it, nearest first."""
        seen, queue = [sha], [sha]
        while queue:
            for parent in self.commits[queue.pop(0)].parents:
                if parent not in seen:
                    seen.append(parent)
                    queue.append(parent)
        return seen


# -- repositories ------------------------------------------------------------------------------------

@dataclass
class PullRequest:
    """A pull request of one repository (``head_sha`` is kept once it is closed or merged)."""

    number: int
    id: int
    title: str
    body: str | None
    head: str
    base: str
    user: str
    created_at: datetime
    draft: bool = False
    state: str = "open"
    updated_at: datetime | None = None
    closed_at: datetime | None = None
    merged_at: datetime | None = None
    merged_by: str | None = None
    merge_commit_sha: str | None = None
    head_sha: str | None = None


@dataclass
class Repository:
    """A repository with real git objects; ``commit()`` moves a branch head like a push."""

    owner: str
    name: str
    id: int
    private: bool = True
    default_branch: str = "main"
    description: str | None = None
    collaborators: dict[str, str] = field(default_factory=dict)
    store: GitStore = field(default_factory=GitStore, repr=False)
    branches: dict[str, str] = field(default_factory=dict)
    pulls: dict[int, PullRequest] = field(default_factory=dict, repr=False)
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
    created_at: datetime = datetime(2025, 11, 3, 9, 0, tzinfo=UTC)
    _tick: Iterator[int] = field(default_factory=itertools.count, repr=False)

    @property
    def full_name(self) -> str:
        """``owner/name``."""
        return f"{self.owner}/{self.name}"

    def now(self) -> datetime:
        """A deterministic clock: one minute per event, so commit SHAs are stable across runs."""
        return self.created_at + timedelta(minutes=next(self._tick))

    def head(self, branch: str | None = None) -> str:
        """The commit SHA at the head of ``branch`` (default: the default branch)."""
        return self.branches[branch or self.default_branch]

    def resolve(self, ref: str) -> str | None:
        """A branch name, ``heads/<branch>``, ``refs/heads/<branch>`` or a (short) commit SHA -> commit SHA."""
        name = ref.removeprefix("refs/").removeprefix("heads/")
        if name in self.branches:
            return self.branches[name]
        if re.fullmatch(r"[0-9a-f]{7,40}", ref):
            found = [sha for sha in self.store.commits if sha.startswith(ref)]
            return found[0] if len(found) == 1 else None
        return None

    def files(self, ref: str | None = None) -> dict[str, bytes]:
        """The file contents at ``ref`` (default: the default branch)."""
        with self.lock:
            sha = self.resolve(ref or self.default_branch)
            if sha is None:
                raise KeyError(ref)
            tree = self.store.commits[sha].tree
            return {path: self.store.blobs[e.sha] for path, e in self.store.files(tree).items()}

    def commit(self, changes: Mapping[str, bytes | str | LargeFile | None], message: str = "Update files",
               branch: str | None = None, *, author: tuple[str, str] = ("RAD Tester", "tester@example.com"),
               extra_parents: tuple[str, ...] = (), executable: tuple[str, ...] = ()) -> str:
        """Push one commit to ``branch`` (created from the default branch if new); ``None`` deletes a path.

        A :class:`LargeFile` value commits a file of that many zero bytes that is listed but never held.
        """
        with self.lock:
            branch = branch or self.default_branch
            parent = self.branches.get(branch) or self.branches.get(self.default_branch)
            current: dict[str, tuple[str, str]] = {}
            if parent:
                tree = self.store.commits[parent].tree
                current = {p: (e.mode, e.sha) for p, e in self.store.files(tree).items()}
            for path, content in changes.items():
                path = path.strip("/")
                if content is None:
                    current.pop(path, None)
                elif isinstance(content, LargeFile):
                    current[path] = (current.get(path, (FILE_MODE, ""))[0], self.store.put_large(content))
                else:
                    data = content.encode() if isinstance(content, str) else content
                    mode = EXEC_MODE if path in executable else current.get(path, (FILE_MODE, ""))[0]
                    current[path] = (mode, self.store.put_blob(data))
            when = self.now()
            who = Signature(author[0], author[1], when)
            parents = ((parent,) if parent else ()) + extra_parents
            sha = self.store.put_commit(self.store.put_files(current), parents, message, who, who)
            self.branches[branch] = sha
            return sha

    def create_branch(self, name: str, from_ref: str | None = None) -> str:
        """Point a new branch ``name`` at ``from_ref``; returns its commit SHA."""
        with self.lock:
            sha = self.resolve(from_ref or self.default_branch)
            if sha is None:
                raise KeyError(from_ref)
            self.branches[name] = sha
            return sha

    def blob_sha(self, path: str, ref: str | None = None) -> str:
        """The blob SHA of ``path`` at ``ref``."""
        with self.lock:
            sha = self.resolve(ref or self.default_branch) or ""
            entry = self.store.lookup(self.store.commits[sha].tree, path)
            if entry is None:
                raise KeyError(path)
            return entry.sha

    @property
    def pushed_at(self) -> datetime:
        """When the newest branch head was committed."""
        heads = [self.store.commits[s].committer.when for s in self.branches.values()]
        return max(heads, default=self.created_at)


def read_folder(folder: str | Path) -> dict[str, bytes]:
    """The files below ``folder`` (without ``.git``), as ``{relative path: bytes}``."""
    root = Path(folder)
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and ".git" not in p.relative_to(root).parts}


def executables(folder: str | Path) -> tuple[str, ...]:
    """The files below ``folder`` with the executable bit (mode 100755 in git)."""
    root = Path(folder)
    return tuple(p.relative_to(root).as_posix() for p in sorted(root.rglob("*"))
                 if p.is_file() and ".git" not in p.relative_to(root).parts and os.access(p, os.X_OK))


# -- merging ---------------------------------------------------------------------------------------------

def merge_base(repo: Repository, a: str, b: str) -> str | None:
    """The nearest common ancestor of commits ``a`` and ``b``."""
    seen = set(repo.store.ancestors(a))
    return next((s for s in repo.store.ancestors(b) if s in seen), None)


def merge_tree(repo: Repository, base_sha: str, head_sha: str) -> dict[str, tuple[str, str]] | None:
    """The merged ``{path: (mode, sha)}`` of a file-level three-way merge, or None on a conflict."""
    mb = merge_base(repo, base_sha, head_sha)
    if mb is None:
        return None
    store = repo.store

    def flat(sha: str) -> dict[str, tuple[str, str]]:
        return {p: (e.mode, e.sha) for p, e in store.files(store.commits[sha].tree).items()}

    ancestor, base, head = flat(mb), flat(base_sha), flat(head_sha)
    merged = dict(base)
    for path in set(ancestor) | set(head):
        if head.get(path) == ancestor.get(path):
            continue
        if base.get(path) not in (ancestor.get(path), head.get(path)):
            return None
        if path in head:
            merged[path] = head[path]
        else:
            merged.pop(path, None)
    return merged


def touches(repo: Repository, sha: str, path: str) -> bool:
    """Whether commit ``sha`` changed anything at or below ``path`` compared with its first parent."""
    commit = repo.store.commits[sha]
    now = repo.store.lookup(commit.tree, path)
    before = repo.store.lookup(repo.store.commits[commit.parents[0]].tree, path) if commit.parents else None
    return now != before

