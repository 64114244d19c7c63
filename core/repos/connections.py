"""Connect a GitHub repository (with a token) and a Jules API key, for a partner or the platform.

Secrets are checked before anything is stored, sealed the moment they are kept, and opened only to call
GitHub or Jules. Audit events name what changed, never a secret.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from core import audit
from core.errors import InvalidInput, NotFound
from core.repos.reader import LOCAL_PREFIX
from core.secrets import reveal, store
from core.services import Services
from core.suggestions import closest, did_you_mean
from storage.db import Database
from storage.models import JulesConnection, RepoConnection, StoredSecret, User

if TYPE_CHECKING:
    from core.repos.github import GitHubClient, RepoSummary, TokenInfo

GITHUB_TOKEN, JULES_KEY = "github_token", "jules_key"
PLATFORM = "platform"
MAX_REPOSITORIES = 3000
PER_PAGE = 100


def owner_key(owner: User | None) -> str:
    """``user:<id>`` for a partner's connection, ``platform`` for the platform repository."""
    return PLATFORM if owner is None else f"user:{owner.id}"


def describe_owner(owner: User | None) -> str:
    """Whose connection it is, as messages say it: ``the platform`` or the owner's display name."""
    return "the platform" if owner is None else owner.display_name


def find_repo(session: Session, owner: User | None) -> RepoConnection | None:
    """The owner's repository connection (the platform's when ``owner`` is None), or None."""
    return session.scalars(select(RepoConnection).where(RepoConnection.owner_key == owner_key(owner))).one_or_none()


def find_jules(session: Session, owner: User) -> JulesConnection | None:
    """The owner's Jules connection, or None."""
    return session.scalars(select(JulesConnection).where(JulesConnection.owner_id == owner.id)).one_or_none()


@dataclass(frozen=True)
class TokenResult:
    """What checking a token found: who owns it and which repositories it reaches."""

    info: TokenInfo
    repositories: tuple[str, ...]
    truncated: bool


def fetch_repositories(client: GitHubClient, token: str) -> tuple[tuple[str, ...], bool]:
    """Every repository the token reaches, paged 100 at a time, up to MAX_REPOSITORIES."""
    names: list[str] = []
    page, more = 1, True
    while more and len(names) < MAX_REPOSITORIES:
        repos, more = client.list_repositories(token, page=page, per_page=PER_PAGE)
        names += [r.full_name for r in repos]
        page += 1
    return tuple(sorted(set(names[:MAX_REPOSITORIES]), key=str.lower)), more


def connect_token(session: Session, services: Services, actor: User, owner: User | None, token: str,
                  now: datetime) -> TokenResult:
    """Check a GitHub token, then keep it (sealed) with the repositories it reaches.

    Raises the GitHub client's RadError (bad token, missing scope, GitHub unavailable) before storing
    anything.
    """
    token = token.strip()
    if not token:
        raise InvalidInput("Enter a GitHub personal access token.")
    client = services.github()
    info = client.check_token(token)
    names, truncated = fetch_repositories(client, token)
    conn = find_repo(session, owner)
    if conn is None:
        conn = RepoConnection(owner_key=owner_key(owner), owner_id=owner.id if owner else None)
        session.add(conn)
    _forget_secret(session, conn, "token_secret_id")
    secret = store(session, services.secrets, kind=GITHUB_TOKEN, plaintext=token,
                   owner_id=owner.id if owner else None, now=now)
    conn.token_secret_id, conn.token_login, conn.token_kind = secret.id, info.login, info.kind
    conn.token_scopes, conn.token_checked_at = list(info.scopes), now
    conn.choices, conn.choices_fetched_at = list(names), now
    session.flush()
    audit.record(session, actor, "connect.github.token", target=describe_owner(owner), login=info.login,
                 kind=info.kind, repositories=len(names))
    return TokenResult(info, names, truncated)


def repository_token(session: Session, services: Services, conn: RepoConnection) -> str:
    """The connection's token, opened for one call; never keep or show it."""
    row = session.get(StoredSecret, conn.token_secret_id) if conn.token_secret_id else None
    if row is None:
        raise NotFound("No GitHub token is connected.", hint="Run `/rad connect` first.")
    return reveal(services.secrets, row)


def repository_to_check(session: Session, services: Services, owner: User | None,
                        full_name: str) -> tuple[str, str]:
    """The read half of choosing a repository: the name as GitHub spells it and the token to check it with."""
    conn, name = reachable_repository(session, owner, full_name)
    return name, repository_token(session, services, conn)


def reachable_repository(session: Session, owner: User | None, full_name: str) -> tuple[RepoConnection, str]:
    """The connection and ``full_name`` as the token's list spells it (no network).

    Refused when no token is connected or the token's repositories do not include ``full_name``.
    """
    conn = find_repo(session, owner)
    if conn is None or conn.token_secret_id is None:
        raise NotFound("Connect a GitHub token first.", hint="Run `/rad connect`.")
    wanted = full_name.strip().strip("/")
    known = {name.lower(): name for name in conn.choices}
    if conn.choices and wanted.lower() not in known:
        close = closest(wanted, conn.choices) or search(conn.choices, wanted, 3)
        hint = did_you_mean([f"`{c}`" for c in close]) or \
            "Run `/rad connect` again if you gave the token access to it since."
        raise NotFound(f"The connected token cannot reach `{wanted}`.", hint=hint)
    return conn, known.get(wanted.lower(), wanted)


def keep_repository(session: Session, actor: User, owner: User | None, summary: RepoSummary, now: datetime) -> str:
    """The write half: point the connection at the checked repository; returns the previous one."""
    conn = find_repo(session, owner)
    if conn is None or conn.token_secret_id is None:
        raise NotFound("The GitHub token was disconnected meanwhile.", hint="Run `/rad connect` again.")
    previous = conn.full_name
    conn.full_name, conn.default_branch, conn.html_url = summary.full_name, summary.default_branch, summary.html_url
    conn.repo_checked_at = now
    session.flush()
    audit.record(session, actor, "connect.github.repository", target=describe_owner(owner),
                 repository=summary.full_name, branch=summary.default_branch, previous=previous or None)
    return previous


def choose_repository(db: Database, session: Session, services: Services, actor: User, owner: User | None,
                      full_name: str, now: datetime) -> tuple[RepoSummary, str]:
    """Point the connection at ``full_name`` once the token is shown to read it; returns it and the previous one.

    Reads in a short unit of work of ``db``, asks GitHub with no transaction open, then writes in ``session``
    (whose transaction must not have begun yet: a slow handler's session).
    """
    with db.unit_of_work() as lookup:
        name, token = repository_to_check(lookup, services, owner, full_name)
    summary = services.github().check_repository_access(token, name)
    return summary, keep_repository(session, actor, owner, summary, now)


def connect_local(session: Session, actor: User, path: str, now: datetime) -> RepoConnection:
    """Use a folder on the bot's machine as the platform repository (admins only: it reads local files)."""
    root = Path(path.strip()).expanduser().resolve()
    if not root.is_dir():
        raise NotFound(f"There is no folder {root} on the bot's machine.", hint="Give the folder's full path.")
    conn = find_repo(session, None)
    if conn is None:
        conn = RepoConnection(owner_key=owner_key(None), owner_id=None)
        session.add(conn)
    _forget_secret(session, conn, "token_secret_id")
    conn.provider, conn.full_name, conn.default_branch = "local", f"{LOCAL_PREFIX}{root}", "local"
    conn.html_url, conn.token_login, conn.token_kind, conn.token_scopes, conn.choices = "", "", "", [], []
    conn.repo_checked_at = now
    session.flush()
    audit.record(session, actor, "connect.local", target=describe_owner(None), path=str(root))
    return conn


def search(names: list[str] | tuple[str, ...], query: str, limit: int) -> list[str]:
    """Names containing ``query`` (any case), those starting with it first."""
    q = query.strip().lower()
    hits = [n for n in names if q in n.lower()]
    hits.sort(key=lambda n: (not n.lower().startswith(q) and not n.lower().split("/")[-1].startswith(q), n.lower()))
    return hits[:limit]


def jules_source(full_name: str) -> str:
    """The Jules source name of a GitHub repository."""
    return f"sources/github/{full_name}"


def connect_jules(session: Session, services: Services, actor: User, key: str, now: datetime) -> JulesConnection:
    """Check a Jules API key by listing its sources, then keep it sealed."""
    key = key.strip()
    if not key:
        raise InvalidInput("Enter a Jules API key.")
    with services.jules(key) as client:
        sources = [s.name for s in client.list_sources()]
    conn = find_jules(session, actor)
    if conn is None:
        conn = JulesConnection(owner_id=actor.id)
        session.add(conn)
    _forget_secret(session, conn, "key_secret_id")
    secret = store(session, services.secrets, kind=JULES_KEY, plaintext=key, owner_id=actor.id, now=now)
    conn.key_secret_id, conn.sources, conn.checked_at = secret.id, sources, now
    session.flush()
    audit.record(session, actor, "connect.jules", target=describe_owner(actor), sources=len(sources))
    return conn


def disconnect_github(session: Session, actor: User, owner: User | None) -> bool:
    """Forget the token (the repository choice stays, unused); False if none was connected."""
    conn = find_repo(session, owner)
    if conn is None or conn.token_secret_id is None:
        return False
    _forget_secret(session, conn, "token_secret_id")
    conn.choices = []
    session.flush()
    audit.record(session, actor, "disconnect.github", target=describe_owner(owner))
    return True


def disconnect_jules(session: Session, actor: User) -> bool:
    """Delete the stored Jules key; False when none was connected; audited."""
    conn = find_jules(session, actor)
    if conn is None or conn.key_secret_id is None:
        return False
    _forget_secret(session, conn, "key_secret_id")
    session.flush()
    audit.record(session, actor, "disconnect.jules", target=describe_owner(actor))
    return True


def _forget_secret(session: Session, conn: RepoConnection | JulesConnection, attribute: str) -> None:
    """Unlink and delete the connection's secret (unlink first: a reused row id must not look unchanged)."""
    secret_id = getattr(conn, attribute)
    if secret_id is None:
        return
    setattr(conn, attribute, None)
    session.flush()
    row = session.get(StoredSecret, secret_id)
    if row is not None:
        session.delete(row)
        session.flush()
