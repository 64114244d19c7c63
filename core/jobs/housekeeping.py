"""Periodic clean-up: stale drafts (and their sealed values), old delivery keys, spent link codes, finished jobs."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from core.jobs import queue as jobs
from storage.models import Delivery, DeployDraft, FormDraft, Job, LinkCode, PublishDraft, StoredSecret

DRAFT_TTL = timedelta(days=1)
DELIVERY_TTL = timedelta(days=7)
LINK_CODE_TTL = timedelta(days=1)
JOB_TTL = timedelta(days=30)


def sweep(session: Session, now: datetime) -> dict[str, int]:
    """Delete what no one needs any more; returns counts by kind."""
    def count(result: object) -> int:
        return int(getattr(result, "rowcount", 0) or 0)

    stale_secrets = select(DeployDraft.secret_id).where(DeployDraft.created_at < now - DRAFT_TTL,
                                                         DeployDraft.secret_id.is_not(None))
    return {
        "draft_secrets": count(session.execute(delete(StoredSecret).where(StoredSecret.id.in_(stale_secrets)))),
        "deploy_drafts": count(session.execute(delete(DeployDraft).where(DeployDraft.created_at < now - DRAFT_TTL))),
        "publish_drafts": count(session.execute(delete(PublishDraft).where(
            PublishDraft.created_at < now - DRAFT_TTL))),
        "form_drafts": count(session.execute(delete(FormDraft).where(FormDraft.updated_at < now - DRAFT_TTL))),
        "deliveries": count(session.execute(delete(Delivery).where(Delivery.at < now - DELIVERY_TTL))),
        "link_codes": count(session.execute(delete(LinkCode).where(LinkCode.expires_at < now - LINK_CODE_TTL))),
        "jobs": count(session.execute(delete(Job).where(
            Job.status.in_((jobs.JobStatus.DONE, jobs.JobStatus.FAILED)), Job.finished_at < now - JOB_TTL))),
        "abandoned_jobs": jobs.fail_abandoned(session, now),
    }
