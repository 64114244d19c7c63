"""A published module's files at the commit it is pinned to, read through its publisher's connection."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.orm import Session

from core import connections
from core.errors import Conflict, NotFound
from core.repo_reader import LOCAL_PREFIX, GitHubReader, LocalReader, TreeFile, git_blob_sha
from core.services import Services
from storage.db import Database
from storage.models import Module, RepoConnection, User


def _connection(session: Session, module: Module) -> RepoConnection:
    owner = session.get(User, module.owner_id) if module.owner_id else None
    conn = connections.find_repo(session, owner)
    if conn is None or not conn.full_name:
        raise NotFound(f"The repository of `{module.name}` is no longer connected.",
                       hint="Its publisher has to connect it again.")
    return conn


def module_files(db: Database, services: Services, module_id: int) -> dict[str, bytes]:
    """The module's ``.tf`` files by name, exactly as published (blob SHAs checked); no transaction is held."""
    with db.unit_of_work() as session:
        module = session.get_one(Module, module_id)
        conn = _connection(session, module)
        token = connections.repository_token(session, services, conn) if conn.provider == "github" else ""
        name, files, provider, full_name, branch = (module.name, dict(module.files), conn.provider, conn.full_name,
                                                    conn.default_branch)
    wanted = [TreeFile(f"{name}/{filename}", sha, 0) for filename, sha in sorted(files.items())]
    if provider == "local":
        reader = LocalReader(Path(full_name.removeprefix(LOCAL_PREFIX)))
        found = {f.name: reader.read(f) for f in wanted}
        changed = [n for f in wanted if git_blob_sha(found[n := f.name]) != f.sha]
        if changed:
            raise Conflict(f"`{name}` changed on disk since it was published ({', '.join(changed)}).",
                           hint="Publish it again with `/rad admin publish`.")
        return found
    with GitHubReader(services.github(), token, full_name, branch) as github:
        return {f.name: github.read(f) for f in wanted}
