"""Telling a user something privately from background work: a job the worker runs with the messengers."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from commands.framework.context import JobContext
from commands.framework.registry import job
from commands.ui.model import Reply
from core.accounts.identity import IdentityKey
from core.jobs import queue as jobs
from storage.models import User

log = logging.getLogger(__name__)
KIND = "notify.user"


def notify_later(session: Session, user: User, text: str) -> None:
    """Queue a private message to ``user`` on every chat platform they use (sent by the worker)."""
    jobs.enqueue(session, KIND, {"user_id": user.id, "text": text})


@job(KIND)
def send(ctx: JobContext, payload: Mapping[str, Any]) -> None:
    user = ctx.session.get(User, int(payload["user_id"]))
    if user is None:
        return
    reply = Reply(text=str(payload["text"]), ephemeral=False)
    for identity in user.identities:
        messenger = ctx.messengers.get(identity.platform)
        if messenger is None:
            continue
        messenger.notify(IdentityKey(identity.platform, identity.workspace, identity.external_id), reply)
        log.info("user notified", extra={"user_id": user.id, "platform": identity.platform})
