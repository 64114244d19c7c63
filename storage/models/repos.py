"""Connected repositories and Jules connections."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    ForeignKey,
    Integer,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, UTCDateTime, utcnow


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
