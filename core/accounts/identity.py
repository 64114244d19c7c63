"""Users and their chat identities: registration on first contact, bootstrap admins, lookup."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload, lazyload

from core import audit
from core.accounts.roles import USER, grant_role
from core.credits import service as credits
from core.errors import InvalidInput, NotAllowed, NotFound
from core.settings import store as settings
from storage.models import ChatIdentity, User

PLATFORMS = ("slack", "discord", "console")


@dataclass(frozen=True)
class IdentityKey:
    """A user as one chat platform knows them. ``workspace`` is the Slack team id, empty elsewhere."""

    platform: str
    workspace: str
    external_id: str
    name: str = field(default="", compare=False)
    """The name the platform showed with it (a mention's name, a resolved member); not part of the identity."""

    @classmethod
    def parse(cls, text: str) -> IdentityKey:
        """Parse ``slack:<team>:<user>``, ``discord:<user>`` or ``console:<name>`` (as in ``RAD_ADMINS``)."""
        parts = text.strip().split(":")
        if parts[0] == "slack" and len(parts) == 3 and all(parts[1:]):
            return cls("slack", parts[1], parts[2])
        if parts[0] in ("discord", "console") and len(parts) == 2 and parts[1]:
            return cls(parts[0], "", parts[1])
        raise InvalidInput(
            f"`{text}` is not an identity.",
            hint="Use slack:<team id>:<user id>, discord:<user id> or console:<name>.",
        )

    def __str__(self) -> str:
        if self.platform == "slack":
            return f"slack:{self.workspace}:{self.external_id}"
        return f"{self.platform}:{self.external_id}"


@dataclass(frozen=True)
class Caller:
    """The identity behind a request, with the name the platform shows for it."""

    key: IdentityKey
    display_name: str = ""


def find_identity(session: Session, key: IdentityKey) -> ChatIdentity | None:
    """The chat identity for ``key`` with its user and their roles, in one query; None if it never used the bot.

    The user's other identities are loaded only when something asks for them (``whoami``, a link).
    """
    return session.scalars(
        select(ChatIdentity).where(
            ChatIdentity.platform == key.platform,
            ChatIdentity.workspace == key.workspace,
            ChatIdentity.external_id == key.external_id,
        ).options(joinedload(ChatIdentity.user).options(joinedload(User.roles), lazyload(User.identities)))
    ).unique().one_or_none()


def find_user(session: Session, key: IdentityKey) -> User | None:
    """The user behind an identity, or None if that identity never used the bot."""
    identity = find_identity(session, key)
    return identity.user if identity is not None else None


def require_user(session: Session, key: IdentityKey) -> User:
    """The user behind an identity; raises NotFound if that identity never used the bot."""
    user = find_user(session, key)
    if user is None:
        raise NotFound(
            f"I don't know {describe(key)} yet.",
            hint="They become a user the first time they run a command, or when an admin grants them a role.",
        )
    return user


def describe(key: IdentityKey) -> str:
    """How to show an identity in a message: the name it came with, else a mention where the platform has one."""
    if key.name:
        return key.name
    if key.platform in ("slack", "discord"):
        return f"<@{key.external_id}>"
    return f"@{key.external_id}"


def create_user(session: Session, key: IdentityKey, display_name: str, *, by: User | None = None) -> User:
    """Create a user with the ``user`` role and this identity; audited.

    Without a ``display_name`` the name the identity came with (a mention's) is used, else the id.
    """
    name = (display_name or key.name or key.external_id)[:120]
    user = User(display_name=name)
    session.add(user)
    session.flush()
    session.add(ChatIdentity(user=user, platform=key.platform, workspace=key.workspace,
                             external_id=key.external_id, display_name=name))
    grant_role(session, user, USER)
    session.flush()
    audit.record(session, by or user, "user.register", target=user_label(user), platform=key.platform,
                 identity=str(key))
    credits.grant_signup(session, user)
    return user


@dataclass(frozen=True)
class Granted:
    """What a grant did: ``user`` holds the role; ``registered`` when the grant registered them."""

    user: User
    registered: bool


def grant(session: Session, actor: User, key: IdentityKey, role: str) -> Granted:
    """Give the user behind ``key`` the ``role``, registering them first if they never used RAD.

    A new user is named after the mention (``key.name``) and holds ``user`` already, so granting ``user`` to
    them only registers them. A known user still named by their bare id takes the mention's name; any other
    name stays (their own contacts keep it current). Audited.

    Raises:
        Conflict: a known user already holds the role.
    """
    target = find_user(session, key)
    registered = target is None
    if target is None:
        target = create_user(session, key, key.name, by=actor)
    else:
        identity = find_identity(session, key)
        if identity is not None and key.name and identity.display_name == identity.external_id:
            refresh_name(target, identity, key.name)
    if not (registered and role == USER):
        grant_role(session, target, role)
    audit.record(session, actor, "role.grant", target=user_label(target), platform=key.platform, role=role,
                 registered=registered)
    return Granted(target, registered)


def user_label(user: User) -> str:
    """How a user is named in audit targets: ``user:<id> (<display name>)``."""
    return f"user:{user.id} ({user.display_name})"


def known_caller(session: Session, caller: Caller, bootstrap_admins: Iterable[str]) -> User | None:
    """The user :func:`resolve_caller` would return without writing anything, read in one query; else None.

    None when the caller is new, renamed, merged, deactivated or a bootstrap admin without the role. A read-only
    unit of work resolves a known caller; any other goes through a writer's unit first.
    """
    identity = find_identity(session, caller.key)
    if identity is None or identity.user.merged_into_id is not None or not identity.user.active:
        return None
    user, name = identity.user, caller.display_name.strip()[:120]
    if name and not (identity.display_name == name and user.display_name == name):
        return None
    admins = {str(IdentityKey.parse(a)) for a in bootstrap_admins}
    return None if str(caller.key) in admins and "admin" not in user.role_names else user


def resolve_caller(session: Session, caller: Caller, bootstrap_admins: Iterable[str]) -> User:
    """The user making a request; registers them on first contact and applies ``RAD_ADMINS``.

    Raises NotAllowed for an unknown identity while ``private_mode`` is on (unless a bootstrap admin),
    and for a deactivated user.
    """
    admins = {str(IdentityKey.parse(a)) for a in bootstrap_admins}
    identity = find_identity(session, caller.key)
    is_bootstrap_admin = str(caller.key) in admins
    if identity is None:
        if settings.get_bool(session, "private_mode") and not is_bootstrap_admin:
            raise NotAllowed(
                "This RAD workspace is private: an admin has to add you first.",
                hint="Ask an admin to run `/rad admin grant` for you.",
            )
        user = _register_once(session, caller)
    else:
        user = identity.user
        while user.merged_into_id is not None:
            user = session.get_one(User, user.merged_into_id)
        refresh_name(user, identity, caller.display_name)
    if not user.active:
        raise NotAllowed("Your RAD account is deactivated.", hint="Ask an admin if you think this is a mistake.")
    if is_bootstrap_admin and "admin" not in user.role_names:
        grant_role(session, user, "admin")
        audit.record(session, user, "role.grant", target=user_label(user), platform=caller.key.platform,
                     role="admin", reason="RAD_ADMINS")
    return user


def refresh_name(user: User, identity: ChatIdentity, name: str) -> None:
    """Keep the names current with the platform's: the identity's always, the user's unless they chose one.

    A user's name counts as chosen (in ``/rad profile``) when it is neither this identity's last known name nor
    its bare id (the name of a user registered by a grant before a name was known).
    """
    name = name.strip()[:120]
    if not name or (identity.display_name == name and user.display_name == name):
        return
    if user.display_name in (identity.display_name, identity.external_id):
        user.display_name = name
    identity.display_name = name


def _register_once(session: Session, caller: Caller) -> User:
    """Register on first contact; if a concurrent request registered this identity first, use that user."""
    try:
        with session.begin_nested():
            return create_user(session, caller.key, caller.display_name)
    except IntegrityError:
        identity = find_identity(session, caller.key)
        if identity is None:
            raise
        return identity.user


def count_users(session: Session) -> int:
    """How many users there are, not counting those merged away."""
    return session.scalar(select(func.count(User.id)).where(User.merged_into_id.is_(None))) or 0


def list_users(session: Session, *, offset: int, limit: int) -> list[User]:
    """Users (not merged away) in order of registration."""
    return list(session.scalars(
        select(User).where(User.merged_into_id.is_(None)).order_by(User.id).offset(offset).limit(limit)
    ))
