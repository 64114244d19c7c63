"""A deployment's credit hold: its ledger key, and settling it once (spent or released)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from core.credits import service as credits
from storage.models import Deployment


def hold_key(key: str) -> str:
    """The ledger key of the hold a deploy confirmation (``key``) takes."""
    return f"deploy:{key}"


def settle(session: Session, deployment: Deployment, *, spend: bool) -> None:
    """Spend or release the deployment's hold, once (the ledger ignores a second settlement)."""
    if not deployment.hold_key or deployment.charged:
        return
    if spend:
        credits.spend(session, deployment.hold_key)
        deployment.charged = True
    else:
        credits.release(session, deployment.hold_key)
