"""The catalog: parse cache, repository scans, published modules, pins and publish drafts."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    ForeignKey,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, validates

from storage.models.base import Base, UTCDateTime, utcnow
from storage.models.states import PublishDraftStatus, RepoScanStatus, state_type


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
    status: Mapped[RepoScanStatus] = mapped_column(state_type(RepoScanStatus, length=16, column="status"),
                                                   default=RepoScanStatus.IDLE)
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
    status: Mapped[PublishDraftStatus] = mapped_column(state_type(PublishDraftStatus, length=16, column="status"),
                                                       default=PublishDraftStatus.OPEN)
    result: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
