"""Deployments, their Terraform runs, deploy form drafts and the module source they pinned."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Numeric,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, UTCDateTime, utcnow
from storage.models.states import (
    DeployDraftStatus,
    DeploymentAction,
    DeploymentRunStatus,
    DeploymentStatus,
    state_type,
)


class Deployment(Base):
    """A module deployed by a user: its inputs (sensitive ones sealed), outputs, status and chat message."""

    __tablename__ = "deployments"
    __table_args__ = (
        Index("ix_deployments_hold_key", "hold_key"),
        Index("ix_deployments_owner_id_id", "owner_id", "id"),
        Index("ix_deployments_owner_id_status", "owner_id", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    short_id: Mapped[str] = mapped_column(String(8), unique=True)
    module_id: Mapped[int | None] = mapped_column(ForeignKey("modules.id", ondelete="SET NULL"), index=True)
    module_name: Mapped[str] = mapped_column(String(100))
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    status: Mapped[DeploymentStatus] = mapped_column(state_type(DeploymentStatus, length=20, column="status"),
                                                     default=DeploymentStatus.QUEUED)
    action: Mapped[DeploymentAction] = mapped_column(state_type(DeploymentAction, length=10, column="action"),
                                                     default=DeploymentAction.CREATE)
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
    action: Mapped[DeploymentAction] = mapped_column(state_type(DeploymentAction, length=10, column="action"))
    status: Mapped[DeploymentRunStatus] = mapped_column(
        state_type(DeploymentRunStatus, length=20, column="status"), default=DeploymentRunStatus.QUEUED)
    claimed_by: Mapped[str] = mapped_column(String(100), default="")
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    plan_summary: Mapped[str] = mapped_column(String(200), default="")
    error: Mapped[str] = mapped_column(Text, default="")
    log: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    review: Mapped[bool] = mapped_column(default=False)
    """Whether the plan waits for a review (Apply or Discard) before anything is applied."""
    plan_secret_id: Mapped[int | None] = mapped_column(ForeignKey("stored_secrets.id", ondelete="SET NULL"))
    """The saved plan file while it waits for review or apply, sealed like the state (it can hold secrets)."""
    state_serial: Mapped[int | None] = mapped_column(default=None)
    state_lineage: Mapped[str] = mapped_column(String(64), default="")
    """The state the plan was made on (its serial and lineage): a plan whose state moved is never applied."""
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    reviewed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    resume_status: Mapped[DeploymentStatus | None] = mapped_column(
        state_type(DeploymentStatus, length=20, column="resume_status"), default=None)
    """The deployment's status before this run: what it returns to when the plan is not applied."""
    other_inputs: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    """The deployment's other version (inputs, commit, files): before the run its previous one, kept to put
    back when the plan is not applied; after that, this run's proposal, kept to plan it again."""
    other_secret_id: Mapped[int | None] = mapped_column(ForeignKey("stored_secrets.id", ondelete="SET NULL"))
    """The sealed inputs of that other version."""

class DeployDraft(Base):
    """A deploy form being filled in (step by step) and confirmed once; sensitive values are sealed."""

    __tablename__ = "deploy_drafts"
    __table_args__ = (Index("ix_deploy_drafts_user_id_module_id", "user_id", "module_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token: Mapped[str] = mapped_column(String(32), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    module_id: Mapped[int | None] = mapped_column(ForeignKey("modules.id", ondelete="SET NULL"))
    deployment_id: Mapped[int | None] = mapped_column(ForeignKey("deployments.id", ondelete="CASCADE"))
    commit: Mapped[str] = mapped_column(String(64))
    step: Mapped[int] = mapped_column(default=0)
    values: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    secret_id: Mapped[int | None] = mapped_column(ForeignKey("stored_secrets.id", ondelete="SET NULL"))
    status: Mapped[DeployDraftStatus] = mapped_column(state_type(DeployDraftStatus, length=16, column="status"),
                                                      default=DeployDraftStatus.FILLING)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)

class SourceBlob(Base):
    """A module file's content by git blob SHA: what deployments run, kept after the module changes or goes."""

    __tablename__ = "source_blobs"

    sha: Mapped[str] = mapped_column(String(64), primary_key=True)
    content: Mapped[bytes] = mapped_column(LargeBinary)
    stored_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
