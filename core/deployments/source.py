"""A deployment's module files as pinned at confirm: kept in the database, fetched once through the publisher.

At confirm a deployment records the module's files by git blob SHA (``Deployment.source_files``). The first run
reads the missing contents through the module's connection (by blob SHA, so a later publish changes nothing)
and keeps them in ``source_blobs``; every later run, update or destroy reads them from there, also after the
module was changed, unpublished or removed from the repository.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import Conflict, NotFound
from core.repos import connections
from core.repos.reader import LOCAL_PREFIX, GitHubReader, LocalReader, TreeFile, git_blob_sha
from core.services import Services
from storage.db import Database, dialect_insert
from storage.models import Deployment, Module, RepoConnection, SourceBlob, User, utcnow


def _connection(session: Session, module: Module) -> RepoConnection:
    owner = session.get(User, module.owner_id) if module.owner_id else None
    conn = connections.find_repo(session, owner)
    if conn is None or not conn.full_name:
        raise NotFound(f"The repository of `{module.name}` is no longer connected.",
                       hint="Its publisher has to connect it again.")
    return conn


def pinned_files(db: Database, services: Services, deployment_id: int) -> dict[str, bytes]:
    """The deployment's module files by name, exactly as pinned (blob SHAs checked); no transaction is held.

    Raises:
        NotFound: contents not kept yet and the module or its repository is gone.
        Conflict: a fetched file does not match its pinned SHA.
    """
    with db.unit_of_work() as session:
        deployment = session.get_one(Deployment, deployment_id)
        pinned = dict(deployment.source_files)
        kept = _kept(session, set(pinned.values()))
        missing = {name: sha for name, sha in pinned.items() if sha not in kept}
        if not pinned:
            raise NotFound(f"Deployment `{deployment.short_id}` has no module source pinned.",
                           hint="Deploy the module again.")
        fetch_plan = _fetch_plan(session, services, deployment, missing) if missing else None
    fetched = _fetch(fetch_plan) if fetch_plan else {}
    for name, sha in missing.items():
        if git_blob_sha(fetched[name]) != sha:
            raise Conflict(f"`{name}` no longer matches the version pinned for this deployment.",
                           hint="Publish the module again and deploy it again.")
    if fetched:
        with db.unit_of_work() as session:  # another worker may be storing the same blobs: the first one wins
            rows = {sha: fetched[name] for name, sha in missing.items()}
            blobs = [{"sha": sha, "content": content, "stored_at": utcnow()} for sha, content in rows.items()]
            session.execute(dialect_insert(session)(SourceBlob).values(blobs)
                            .on_conflict_do_nothing(index_elements=[SourceBlob.sha]))
    return {name: kept[sha] if sha in kept else fetched[name] for name, sha in pinned.items()}


def _kept(session: Session, shas: set[str]) -> dict[str, bytes]:
    if not shas:
        return {}
    return {row.sha: row.content for row in session.scalars(select(SourceBlob).where(SourceBlob.sha.in_(shas)))}


@dataclass(frozen=True)
class _FetchPlan:
    """Where to read a deployment's missing files: read in a transaction, used after it."""

    services: Services
    provider: str
    token: str = field(repr=False)
    full_name: str
    branch: str
    folder: str
    missing: dict[str, str]


def _fetch_plan(session: Session, services: Services, deployment: Deployment,
                missing: dict[str, str]) -> _FetchPlan:
    module = session.get(Module, deployment.module_id) if deployment.module_id else None
    if module is None:
        raise NotFound(f"The module `{deployment.module_name}` is no longer published and this deployment's "
                       "files were never fetched.", hint="Publish the module again, then deploy it again.")
    conn = _connection(session, module)
    token = connections.repository_token(session, services, conn) if conn.provider == "github" else ""
    return _FetchPlan(services, conn.provider, token, conn.full_name, conn.default_branch, module.name, missing)


def _fetch(plan: _FetchPlan) -> dict[str, bytes]:
    wanted = {name: TreeFile(f"{plan.folder}/{name}", sha, 0) for name, sha in sorted(plan.missing.items())}
    if plan.provider == "local":
        reader = LocalReader(Path(plan.full_name.removeprefix(LOCAL_PREFIX)))
        return {name: reader.read(file) for name, file in wanted.items()}
    with GitHubReader(plan.services.github(), plan.token, plan.full_name, plan.branch) as github:
        return {name: github.read(file) for name, file in wanted.items()}
