"""Typed SQLAlchemy models: the whole schema, one class per table."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship, validates
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored as UTC and always read back timezone-aware (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; use an aware UTC datetime")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class User(Base):
    """A platform user; chat identities on Slack, Discord or the console point at one."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    display_name: Mapped[str] = mapped_column(String(120))
    active: Mapped[bool] = mapped_column(default=True)
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    roles: Mapped[list[UserRole]] = relationship(
        back_populates="user", cascade="all, delete-orphan", lazy="selectin"
    )
    identities: Mapped[list[ChatIdentity]] = relationship(
        back_populates="user", lazy="selectin", order_by="ChatIdentity.id"
    )

    @property
    def role_names(self) -> frozenset[str]:
        return frozenset(r.role for r in self.roles)


class UserRole(Base):
    """One additive role flag held by a user."""

    __tablename__ = "user_roles"
    __table_args__ = (UniqueConstraint("user_id", "role"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(20))
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    user: Mapped[User] = relationship(back_populates="roles")


class ChatIdentity(Base):
    """A user as a chat platform knows them: (platform, workspace, external id)."""

    __tablename__ = "chat_identities"
    __table_args__ = (UniqueConstraint("platform", "workspace", "external_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    platform: Mapped[str] = mapped_column(String(16))
    workspace: Mapped[str] = mapped_column(String(64), default="")
    external_id: Mapped[str] = mapped_column(String(64))
    display_name: Mapped[str] = mapped_column(String(120), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    user: Mapped[User] = relationship(back_populates="identities")


class LinkCode(Base):
    """A one-time code that joins a second chat identity to a user; only its hash is kept."""

    __tablename__ = "link_codes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    issued_on: Mapped[str] = mapped_column(String(16))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)


class AuditEvent(Base):
    """Who did what to which target, from which platform, when, and whether it was allowed."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_at", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    platform: Mapped[str] = mapped_column(String(16), default="")
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(200), default="")
    outcome: Mapped[str] = mapped_column(String(16), default="ok")
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Delivery(Base):
    """A chat delivery (Slack event, interaction, retry) already handled; retries are dropped."""

    __tablename__ = "deliveries"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)


class ThreadBinding(Base):
    """A chat thread bound to a thread handler (e.g. a Jules session) and the subject it talks about."""

    __tablename__ = "thread_bindings"
    __table_args__ = (UniqueConstraint("platform", "workspace", "channel", "thread"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    workspace: Mapped[str] = mapped_column(String(64), default="")
    channel: Mapped[str] = mapped_column(String(64))
    thread: Mapped[str] = mapped_column(String(64))
    handler: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Job(Base):
    """A unit of background work claimed by a worker (``FOR UPDATE SKIP LOCKED`` on PostgreSQL)."""

    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_claim", "status", "run_after"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="queued")
    attempts: Mapped[int] = mapped_column(default=0)
    run_after: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    claimed_by: Mapped[str] = mapped_column(String(100), default="")
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Setting(Base):
    """A platform-wide setting (``private_mode`` ...), changed by admins."""

    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class UserPreference(Base):
    """Per-user preferences set with ``/rad profile``."""

    __tablename__ = "user_preferences"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    notify_deployments: Mapped[bool] = mapped_column(default=True)
    notify_billing: Mapped[bool] = mapped_column(default=True)


class StoredSecret(Base):
    """An encrypted secret (GitHub token, Jules key): Fernet ciphertext and a fingerprint, never the secret."""

    __tablename__ = "stored_secrets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    ciphertext: Mapped[str] = mapped_column(Text)
    fingerprint: Mapped[str] = mapped_column(String(12))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class FormDraft(Base):
    """A form being filled in over several steps (Discord modals hold 5 inputs); never holds secrets."""

    __tablename__ = "form_drafts"

    token: Mapped[str] = mapped_column(String(32), primary_key=True)
    owner: Mapped[str] = mapped_column(String(120))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow, index=True)


class RepoConnection(Base):
    """The repository a partner (or the platform) publishes modules from, and the token that reads it.

    ``owner_key`` is ``user:<id>`` for a partner and ``platform`` for the platform repository.
    """

    __tablename__ = "repo_connections"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    owner_key: Mapped[str] = mapped_column(String(40), unique=True)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    provider: Mapped[str] = mapped_column(String(16), default="github")
    full_name: Mapped[str] = mapped_column(String(200), default="")
    default_branch: Mapped[str] = mapped_column(String(200), default="")
    html_url: Mapped[str] = mapped_column(String(500), default="")
    token_secret_id: Mapped[int | None] = mapped_column(ForeignKey("stored_secrets.id", ondelete="SET NULL"))
    token_login: Mapped[str] = mapped_column(String(100), default="")
    token_kind: Mapped[str] = mapped_column(String(16), default="")
    token_scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    token_checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    repo_checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    choices: Mapped[list[str]] = mapped_column(JSON, default=list)
    choices_fetched_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class JulesConnection(Base):
    """A partner's Jules API key (encrypted) and what the last check found."""

    __tablename__ = "jules_connections"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"), unique=True)
    key_secret_id: Mapped[int | None] = mapped_column(ForeignKey("stored_secrets.id", ondelete="SET NULL"))
    sources: Mapped[list[str]] = mapped_column(JSON, default=list)
    checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ParsedBlob(Base):
    """The parse of one ``.tf`` file, cached by its git blob SHA: a file is fetched and parsed only once."""

    __tablename__ = "parsed_blobs"

    sha: Mapped[str] = mapped_column(String(64), primary_key=True)
    result: Mapped[dict[str, Any]] = mapped_column(JSON)
    parsed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class RepoScan(Base):
    """The last scan of a connected repository: the branch head, its ETag, and the module candidates found."""

    __tablename__ = "repo_scans"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    connection_id: Mapped[int] = mapped_column(ForeignKey("repo_connections.id", ondelete="CASCADE"), unique=True)
    source: Mapped[str] = mapped_column(String(300), default="")
    commit: Mapped[str] = mapped_column(String(64), default="")
    ref_etag: Mapped[str] = mapped_column(String(200), default="")
    candidates: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(16), default="idle")
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    scanned_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    api_calls: Mapped[int] = mapped_column(default=0)


class Module(Base):
    """A published module: a directory of a connected repository pinned to a commit.

    Names keep their case; ``name_key`` (see :meth:`key_for`) is unique, so no two modules differ only in case
    or in ``_`` versus ``-``, and lookups by name go through it.
    """

    __tablename__ = "modules"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    name_key: Mapped[str] = mapped_column(String(100), unique=True, index=True)
    source: Mapped[str] = mapped_column(String(16))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    repository: Mapped[str] = mapped_column(String(300), default="")
    commit: Mapped[str] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(Text, default="")
    documentation: Mapped[str] = mapped_column(String(500), default="")
    credit_cost: Mapped[Decimal] = mapped_column(Numeric(18, 4), default=Decimal(0))
    require_credit_purchases: Mapped[bool] = mapped_column(default=False)
    public_access: Mapped[bool] = mapped_column(default=False)
    dependencies: Mapped[list[str]] = mapped_column(JSON, default=list)
    spec: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    files: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    missing: Mapped[bool] = mapped_column(default=False)
    deployment_count: Mapped[int] = mapped_column(default=0)
    rating_sum: Mapped[int] = mapped_column(default=0)
    rating_count: Mapped[int] = mapped_column(default=0)
    published_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    published_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    @staticmethod
    def key_for(name: str) -> str:
        """The catalog key of a name: lower case, ``_`` read as ``-`` (``Net_Plan`` and ``net-plan`` are one)."""
        return name.strip().lower().replace("_", "-")

    @validates("name")
    def _keep_name_key(self, _field: str, name: str) -> str:
        self.name_key = self.key_for(name)
        return name


class ModulePin(Base):
    """A user's pinned module (pins are per user)."""

    __tablename__ = "module_pins"
    __table_args__ = (UniqueConstraint("user_id", "module_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    module_id: Mapped[int] = mapped_column(ForeignKey("modules.id", ondelete="CASCADE"), index=True)
    pinned_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class PublishDraft(Base):
    """A publish selection being made on a message (its pages, searches and ticks), applied once."""

    __tablename__ = "publish_drafts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token: Mapped[str] = mapped_column(String(32), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    connection_id: Mapped[int] = mapped_column(ForeignKey("repo_connections.id", ondelete="CASCADE"))
    commit: Mapped[str] = mapped_column(String(64))
    selected: Mapped[list[str]] = mapped_column(JSON, default=list)
    query: Mapped[str] = mapped_column(String(100), default="")
    status: Mapped[str] = mapped_column(String(16), default="open")
    result: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


CREDIT_KINDS = ("SIGNUP", "AWARD", "PURCHASE", "HOLD", "RELEASE", "SPEND", "PROJECT")
"""Kinds of ledger rows: grants (SIGNUP, AWARD, PURCHASE), reservations (HOLD, settled once by SPEND or
RELEASE) and recurring project-cost debits (PROJECT)."""


class CreditAccount(Base):
    """A user's credit buckets and the amount held. A cache: each column is the sum of a ledger delta.

    ``held_purchased`` is the part of ``held`` reserved by purchased-only holds. The row is locked
    (``SELECT ... FOR UPDATE``) whenever credits are held, spent, released or added.
    """

    __tablename__ = "credit_accounts"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    awarded: Mapped[Decimal] = mapped_column(Numeric(18, 4), default=Decimal(0))
    purchased: Mapped[Decimal] = mapped_column(Numeric(18, 4), default=Decimal(0))
    held: Mapped[Decimal] = mapped_column(Numeric(18, 4), default=Decimal(0))
    held_purchased: Mapped[Decimal] = mapped_column(Numeric(18, 4), default=Decimal(0))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class CreditTransaction(Base):
    """One append-only ledger row; ``key`` makes every operation apply at most once.

    A SPEND or RELEASE names the HOLD it settles (``hold_id``, unique: a hold is settled once). A SPEND
    records the part paid with purchased credits and the partner revenue-share percentage in force.
    """

    __tablename__ = "credit_transactions"
    __table_args__ = (
        Index("ix_credit_transactions_user_id_id", "user_id", "id"),
        Index("ix_credit_transactions_kind_created_at", "kind", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(16))
    amount: Mapped[Decimal] = mapped_column(Numeric(18, 4))
    awarded_delta: Mapped[Decimal] = mapped_column(Numeric(18, 4), default=Decimal(0))
    purchased_delta: Mapped[Decimal] = mapped_column(Numeric(18, 4), default=Decimal(0))
    held_delta: Mapped[Decimal] = mapped_column(Numeric(18, 4), default=Decimal(0))
    purchased_only: Mapped[bool] = mapped_column(default=False)
    balance_after: Mapped[Decimal] = mapped_column(Numeric(18, 4))
    hold_id: Mapped[int | None] = mapped_column(ForeignKey("credit_transactions.id"), unique=True, default=None)
    purchased_part: Mapped[Decimal | None] = mapped_column(Numeric(18, 4), default=None)
    revenue_share_pct: Mapped[Decimal | None] = mapped_column(Numeric(5, 2), default=None)
    deployment_ref: Mapped[str | None] = mapped_column(String(64), index=True, default=None)
    module: Mapped[str] = mapped_column(String(100), default="")
    description: Mapped[str] = mapped_column(String(500), default="")
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)



class Deployment(Base):
    """A module deployed by a user: its inputs (sensitive ones sealed), outputs, status and chat message."""

    __tablename__ = "deployments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    short_id: Mapped[str] = mapped_column(String(8), unique=True)
    module_id: Mapped[int | None] = mapped_column(ForeignKey("modules.id", ondelete="SET NULL"), index=True)
    module_name: Mapped[str] = mapped_column(String(100))
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    status: Mapped[str] = mapped_column(String(20), default="QUEUED")
    action: Mapped[str] = mapped_column(String(10), default="CREATE")
    commit: Mapped[str] = mapped_column(String(64), default="")
    inputs: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    secret_inputs_id: Mapped[int | None] = mapped_column(ForeignKey("stored_secrets.id", ondelete="SET NULL"))
    outputs: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    credit_cost: Mapped[Decimal] = mapped_column(Numeric(18, 4), default=Decimal(0))
    hold_key: Mapped[str] = mapped_column(String(100), default="")
    charged: Mapped[bool] = mapped_column(default=False)
    rating: Mapped[int | None] = mapped_column(default=None)
    chat_platform: Mapped[str] = mapped_column(String(16), default="")
    chat_workspace: Mapped[str] = mapped_column(String(64), default="")
    chat_channel: Mapped[str] = mapped_column(String(64), default="")
    chat_thread: Mapped[str] = mapped_column(String(64), default="")
    chat_message: Mapped[str] = mapped_column(String(64), default="")
    source_files: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    """The module's files pinned at confirm (name -> git blob SHA); their contents are in ``source_blobs``."""
    source_platform: Mapped[bool] = mapped_column(default=False)
    """Whether the pinned source is a platform module (platform modules may use provisioners)."""
    state_secret_id: Mapped[int | None] = mapped_column(ForeignKey("stored_secrets.id", ondelete="SET NULL"))
    """Terraform's state, sealed like every secret; written by the run's state backend as Terraform goes."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)


class DeploymentRun(Base):
    """One Terraform run of a deployment (create, update or destroy), claimed by exactly one worker."""

    __tablename__ = "deployment_runs"
    __table_args__ = (Index("ix_deployment_runs_claim", "status", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    deployment_id: Mapped[int] = mapped_column(ForeignKey("deployments.id", ondelete="CASCADE"), index=True)
    action: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(20), default="QUEUED")
    claimed_by: Mapped[str] = mapped_column(String(100), default="")
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    plan_summary: Mapped[str] = mapped_column(String(200), default="")
    error: Mapped[str] = mapped_column(Text, default="")
    log: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class DeployDraft(Base):
    """A deploy form being filled in (step by step) and confirmed once; sensitive values are sealed."""

    __tablename__ = "deploy_drafts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token: Mapped[str] = mapped_column(String(32), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    module_id: Mapped[int | None] = mapped_column(ForeignKey("modules.id", ondelete="SET NULL"))
    deployment_id: Mapped[int | None] = mapped_column(ForeignKey("deployments.id", ondelete="CASCADE"))
    commit: Mapped[str] = mapped_column(String(64))
    step: Mapped[int] = mapped_column(default=0)
    values: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    secret_id: Mapped[int | None] = mapped_column(ForeignKey("stored_secrets.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(16), default="filling")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class SourceBlob(Base):
    """A module file's content by git blob SHA: what deployments run, kept after the module changes or goes."""

    __tablename__ = "source_blobs"

    sha: Mapped[str] = mapped_column(String(64), primary_key=True)
    content: Mapped[bytes] = mapped_column(LargeBinary)
    stored_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
