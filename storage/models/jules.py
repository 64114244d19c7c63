"""Refining modules with Jules: one session per thread, and the collaborators a module's owner names."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, UTCDateTime, utcnow
from storage.models.states import RefineDecision, RefineStatus, state_type


class RefineSession(Base):
    """A Jules session on one module, talked to in one chat thread.

    ``live_module_id`` holds the module's id while the session is live and NULL once it is over: being
    unique, it keeps one live session per module even when two starts race. The plan and pull request
    columns record the one decision each card takes (who and when). ``pending`` holds the thread messages
    waiting to be sent to Jules (``{"id", "text"}``), sent by the relay with no transaction open.
    """

    __tablename__ = "refine_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    module_id: Mapped[int] = mapped_column(ForeignKey("modules.id", ondelete="CASCADE"), index=True)
    module_name: Mapped[str] = mapped_column(String(100))
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    live_module_id: Mapped[int | None] = mapped_column(Integer, unique=True)
    status: Mapped[RefineStatus] = mapped_column(state_type(RefineStatus, length=16, column="status"),
                                                 default=RefineStatus.STARTING)
    jules_session: Mapped[str] = mapped_column(String(64), default="")
    jules_url: Mapped[str] = mapped_column(String(300), default="")
    jules_state: Mapped[str] = mapped_column(String(40), default="")
    source: Mapped[str] = mapped_column(String(300), default="")
    branch: Mapped[str] = mapped_column(String(200), default="")
    chat_platform: Mapped[str] = mapped_column(String(16), default="")
    chat_workspace: Mapped[str] = mapped_column(String(64), default="")
    chat_channel: Mapped[str] = mapped_column(String(64), default="")
    chat_thread: Mapped[str] = mapped_column(String(64), default="")
    status_message: Mapped[str] = mapped_column(String(64), default="")
    cursor: Mapped[str] = mapped_column(String(40), default="")
    next_poll_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None, index=True)
    poll_seconds: Mapped[int] = mapped_column(Integer, default=5)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    pending: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    plan_id: Mapped[str] = mapped_column(String(64), default="")
    plan_steps: Mapped[str] = mapped_column(Text, default="")
    plan_decision: Mapped[RefineDecision | None] = mapped_column(
        state_type(RefineDecision, length=16, column="plan_decision"), default=None)
    plan_decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    plan_decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    pr_url: Mapped[str] = mapped_column(String(500), default="")
    pr_title: Mapped[str] = mapped_column(String(300), default="")
    pr_summary: Mapped[str] = mapped_column(Text, default="")
    pr_decision: Mapped[RefineDecision | None] = mapped_column(
        state_type(RefineDecision, length=16, column="pr_decision"), default=None)
    pr_decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    pr_decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    end_note: Mapped[str] = mapped_column(String(300), default="")


class RefineCollaborator(Base):
    """Someone the module's owner lets approve plans and merge or close pull requests of that module."""

    __tablename__ = "refine_collaborators"
    __table_args__ = (UniqueConstraint("module_id", "user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    module_id: Mapped[int] = mapped_column(ForeignKey("modules.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    added_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
