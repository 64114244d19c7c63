"""Typed SQLAlchemy models, one file per domain; every model is importable from here."""

from storage.models.accounts import ChatIdentity, LinkCode, User, UserPreference, UserRole
from storage.models.base import NAMING, Base, UTCDateTime, utcnow
from storage.models.catalog import Module, ModulePin, ParsedBlob, PublishDraft, RepoScan
from storage.models.costs import CostDebit, CostDebitPeriod, CostImport, CostRow, Invoice
from storage.models.credits import CREDIT_KINDS, CreditAccount, CreditTransaction
from storage.models.deployments import DeployDraft, Deployment, DeploymentRun, SourceBlob
from storage.models.home import HomeTab
from storage.models.jules import RefineCollaborator, RefineSession
from storage.models.kernel import AuditEvent, Delivery, FormDraft, Job, Setting, StoredSecret, ThreadBinding
from storage.models.payments import Purchase, StripeEvent, Subscription, SubscriptionTier
from storage.models.repos import JulesConnection, RepoConnection
from storage.models.revenue import DigestPost, DigestTarget, RevenueDay
from storage.models.slack_oauth import SLACK_BOTS, SLACK_INSTALLATIONS, SLACK_OAUTH_STATES
from storage.models.states import (
    CostDebitStatus,
    DeployDraftStatus,
    DeploymentAction,
    DeploymentRunStatus,
    DeploymentStatus,
    DigestCadence,
    DigestPostStatus,
    DigestTargetStatus,
    JobStatus,
    PublishDraftStatus,
    PurchaseStatus,
    RefineDecision,
    RefineStatus,
    RepoScanStatus,
    SubscriptionStatus,
)

__all__ = [
    "CREDIT_KINDS",
    "NAMING",
    "SLACK_BOTS",
    "SLACK_INSTALLATIONS",
    "SLACK_OAUTH_STATES",
    "AuditEvent",
    "Base",
    "ChatIdentity",
    "CostDebit",
    "CostDebitPeriod",
    "CostDebitStatus",
    "CostImport",
    "CostRow",
    "CreditAccount",
    "CreditTransaction",
    "Delivery",
    "DeployDraft",
    "DeployDraftStatus",
    "Deployment",
    "DeploymentAction",
    "DeploymentRun",
    "DeploymentRunStatus",
    "DeploymentStatus",
    "DigestCadence",
    "DigestPost",
    "DigestPostStatus",
    "DigestTarget",
    "DigestTargetStatus",
    "FormDraft",
    "HomeTab",
    "Invoice",
    "Job",
    "JobStatus",
    "JulesConnection",
    "LinkCode",
    "Module",
    "ModulePin",
    "ParsedBlob",
    "PublishDraft",
    "PublishDraftStatus",
    "Purchase",
    "PurchaseStatus",
    "RefineCollaborator",
    "RefineDecision",
    "RefineSession",
    "RefineStatus",
    "RepoConnection",
    "RepoScan",
    "RepoScanStatus",
    "RevenueDay",
    "Setting",
    "SourceBlob",
    "StoredSecret",
    "StripeEvent",
    "Subscription",
    "SubscriptionStatus",
    "SubscriptionTier",
    "ThreadBinding",
    "UTCDateTime",
    "User",
    "UserPreference",
    "UserRole",
    "utcnow",
]
