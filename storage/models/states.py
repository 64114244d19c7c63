"""The state machines stored in the schema: one ``StrEnum`` each, and the column type that keeps them honest.

They live in ``storage`` because columns use them and ``storage`` imports nothing above it; the domain
packages re-export them (``core.deployments.status``, ``core.jobs.queue``, ``core.catalog.scan``).
A state column (:func:`state_type`) refuses an unknown value before it is written, returns the member when
read, and carries a CHECK constraint named ``ck_<table>_<column>``.
"""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import Enum


class DeploymentStatus(StrEnum):
    """Where a deployment is: waiting, running, how its last run ended, or gone."""

    QUEUED = "QUEUED"
    WORKING = "WORKING"
    SUCCESS = "SUCCESS"
    FAILURE = "FAILURE"
    TIMEOUT = "TIMEOUT"
    INTERNAL_ERROR = "INTERNAL_ERROR"
    CANCELLED = "CANCELLED"
    DELETING = "DELETING"
    DELETED = "DELETED"
    AWAITING_REVIEW = "AWAITING_REVIEW"
    """A plan of its update or destroy (or of its create, with ``review_creates``) waits for Apply or Discard."""


class DeploymentRunStatus(StrEnum):
    """Where one Terraform run of a deployment is: waiting, claimed by a worker, or how it ended."""

    QUEUED = "QUEUED"
    WORKING = "WORKING"
    SUCCESS = "SUCCESS"
    FAILURE = "FAILURE"
    TIMEOUT = "TIMEOUT"
    INTERNAL_ERROR = "INTERNAL_ERROR"
    CANCELLED = "CANCELLED"
    PLANNED = "PLANNED"
    """Planned; the plan (sealed) waits for its review: Apply or Discard."""
    APPROVED = "APPROVED"
    """The reviewed plan was applied by a click: it waits for a worker to apply exactly that plan."""
    DISCARDED = "DISCARDED"
    """The plan was discarded: nothing was applied."""
    EXPIRED = "EXPIRED"
    """No one reviewed the plan in time (``plan_review_hours``): nothing was applied."""
    STALE = "STALE"
    """The deployment changed after the plan (state or module): the plan was refused, nothing was applied."""


class DeploymentAction(StrEnum):
    """What a deployment run does (and what a deployment last asked for)."""

    CREATE = "CREATE"
    UPDATE = "UPDATE"
    DESTROY = "DESTROY"


class JobStatus(StrEnum):
    """Where a background job is: due, claimed by a worker, finished, or failed for good."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class DeployDraftStatus(StrEnum):
    """A deploy form being filled in, or confirmed (once)."""

    FILLING = "filling"
    DONE = "done"


class PublishDraftStatus(StrEnum):
    """A publish selection being made, or applied (once)."""

    OPEN = "open"
    APPLIED = "applied"


class RepoScanStatus(StrEnum):
    """Whether a repository scan is running now."""

    IDLE = "idle"
    RUNNING = "running"


class PurchaseStatus(StrEnum):
    """A Stripe Checkout purchase: being created, waiting for payment, or how it ended (each end is final)."""

    CREATING = "creating"
    OPEN = "open"
    PAID = "paid"
    EXPIRED = "expired"
    FAILED = "failed"


class SubscriptionStatus(StrEnum):
    """A user's Stripe subscription: waiting for its checkout, running, ending at the period's end, or over."""

    PENDING = "pending"
    ACTIVE = "active"
    CANCELING = "canceling"
    CANCELED = "canceled"


class CostDebitStatus(StrEnum):
    """A user's recurring project-cost debit of one period: charged, or short of credits (flagged, not charged)."""

    DEBITED = "debited"
    SHORT = "short"


class RefineStatus(StrEnum):
    """A Jules refine session of a module: being started, live in its thread, or over (each end is final)."""

    STARTING = "starting"
    ACTIVE = "active"
    ENDED = "ended"
    FAILED = "failed"


class RefineDecision(StrEnum):
    """A plan or pull request card in a refine thread: waiting for a decision, or what was decided (once)."""

    PENDING = "pending"
    APPROVED = "approved"
    CHANGES = "changes"
    MERGED = "merged"
    CLOSED = "closed"


class DigestCadence(StrEnum):
    """How often a channel receives the revenue digest: each period is a whole UTC day, ISO week or month."""

    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"


class DigestTargetStatus(StrEnum):
    """A digest channel: receiving digests, broken (the bot could not post there), or turned off."""

    ACTIVE = "active"
    BROKEN = "broken"
    OFF = "off"


class DigestPostStatus(StrEnum):
    """One period's digest for one channel: claimed by a clock, posted, or abandoned (its channel broke)."""

    CLAIMED = "claimed"
    POSTED = "posted"
    ABANDONED = "abandoned"


STATE_MACHINES: tuple[type[StrEnum], ...] = (
    DeploymentStatus, DeploymentRunStatus, DeploymentAction, JobStatus, DeployDraftStatus, PublishDraftStatus,
    RepoScanStatus, PurchaseStatus, SubscriptionStatus, CostDebitStatus,
    RefineStatus, RefineDecision, DigestCadence, DigestTargetStatus, DigestPostStatus)


def state_type(states: type[StrEnum], *, length: int, column: str) -> Enum:
    """A column type for ``states``: stored as its values in a VARCHAR of ``length`` with a CHECK constraint.

    Args:
        states: The enum whose values the column may hold.
        length: The VARCHAR length (kept from the column's plain-string days, so no type changes).
        column: The column's name; it names the constraint ``ck_<table>_<column>``.
    """
    return Enum(states, name=column, length=length, native_enum=False, create_constraint=True,
                validate_strings=True, values_callable=lambda members: [member.value for member in members])
