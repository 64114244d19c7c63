"""Posting to chat from background work through an outbox: rows in the ``jobs`` table of kind ``chat.post``.

Work that wants to say something writes a post row in its own transaction (so the message is kept exactly
when the work is); the worker delivers the row after that commit, with no transaction open, and records the
message the chat platform made (Slack ``ts``, Discord message id). A failed post is retried with the queue's
backoff; a row whose message is recorded is never posted again. Each row carries an idempotency key: writing
the same key twice keeps one row.
"""

from __future__ import annotations

import base64
import logging
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from commands.framework.context import JobContext
from commands.framework.messenger import Messenger, ThreadStatus
from commands.framework.registry import job
from commands.ui.model import Attachment, Button, Card, Field, Reply
from core.accounts.identity import IdentityKey
from core.conversations import ConversationRef
from core.jobs import queue as jobs
from storage.models import Job, User

log = logging.getLogger(__name__)
KIND = "notify.user"
"""Rows queued before the outbox: a private message to every identity of a user (now fanned out into posts)."""
POST_KIND = "chat.post"


def post_later(session: Session, key: str, text: str, *, where: ConversationRef | None = None,
               user: IdentityKey | None = None, buttons: Sequence[Button] = (), edit: bool = False,
               cards: Sequence[Card] = (), attachments: Sequence[Attachment] = (),
               on_failure: Mapping[str, Any] | None = None, status: str | None = None) -> Job:
    """Queue ``text`` for ``where`` (a channel or thread) or for ``user`` (a direct message), once per ``key``.

    The row commits with the caller's transaction; the worker posts it after that. ``buttons`` go with the
    message (their label, action id, value, style and link; no confirmation dialogs), and so do ``cards``
    (title, text and fields). With ``edit``, the message ``where.message`` is replaced instead.
    ``attachments`` (a chart, a CSV) are kept in the row and uploaded with the message. ``on_failure`` names a
    job (``{"kind": ..., ...}``) queued with the row's data and ``error`` when the post fails for good.
    ``status`` is first shown as the thread's working status where the platform has one (Slack's
    ``assistant.threads.setStatus``; "" clears it); only when it refuses is ``text`` posted (or edited), and
    an empty ``text`` posts nothing.
    """
    if (where is None) == (user is None):
        raise ValueError("post_later needs exactly one of where= or user=")
    if edit and (where is None or not where.message):
        raise ValueError("post_later(edit=True) needs where= naming the message to replace")
    existing = session.scalars(select(Job).where(Job.kind == POST_KIND,
                                                 Job.payload["key"].as_string() == key)).first()
    if existing is not None:
        return existing
    payload: dict[str, Any] = {"key": key, "text": text}
    if where is not None:
        payload["where"] = asdict(where)
    if user is not None:
        payload["user"] = asdict(user)
    if buttons:
        payload["buttons"] = [{"label": b.label, "action_id": b.action_id, "value": b.value, "style": b.style,
                               **({"url": b.url} if b.url else {})} for b in buttons]
    if cards:
        payload["cards"] = [{"title": c.title, "text": c.text, "fields": [[f.label, f.value] for f in c.fields]}
                            for c in cards]
    if attachments:
        payload["attachments"] = [{"filename": a.filename, "mime": a.mime, "title": a.title,
                                   "content": base64.b64encode(a.content).decode()} for a in attachments]
    if on_failure is not None:
        payload["on_failure"] = dict(on_failure)
    if edit:
        payload["edit"] = True
    if status is not None:
        payload["status"] = status
    return jobs.enqueue(session, POST_KIND, payload)


def notify_later(session: Session, user: User, text: str, *, buttons: Sequence[Button] = ()) -> None:
    """Queue a private message to ``user`` on every chat platform they use (posted by the worker)."""
    key = uuid.uuid4().hex
    for identity in user.identities:
        post_later(session, f"notify:{key}:{identity.platform}:{identity.workspace}:{identity.external_id}", text,
                   user=IdentityKey(identity.platform, identity.workspace, identity.external_id), buttons=buttons)


def deliver(messengers: Mapping[str, Messenger], payload: Mapping[str, Any]) -> dict[str, Any]:
    """Post one outbox row (no transaction may be open); returns its payload with the message posted.

    A row whose message is recorded is returned as it is: it is never posted twice. Raises when the chat
    platform fails (the worker retries the row) or none is configured for it.
    """
    if payload.get("sent"):
        return dict(payload)
    buttons = tuple(Button(str(b["label"]), str(b["action_id"]), str(b.get("value", "")), b.get("style", "default"),
                           url=str(b.get("url", ""))) for b in payload.get("buttons") or ())
    cards = tuple(Card(str(c["title"]), str(c.get("text", "")),
                       tuple(Field(str(label), str(value)) for label, value in c.get("fields") or ()))
                  for c in payload.get("cards") or ())
    files = tuple(Attachment(str(a["filename"]), base64.b64decode(str(a["content"])), str(a.get("mime", "")),
                             str(a.get("title", ""))) for a in payload.get("attachments") or ())
    reply = Reply(text=str(payload["text"]), cards=cards, actions=buttons, attachments=files, ephemeral=False)
    if "status" in payload and "where" in payload:
        where = ConversationRef(**payload["where"])
        messenger = _messenger(messengers, where.platform)
        shown = isinstance(messenger, ThreadStatus) and messenger.set_status(where, str(payload["status"]))
        if shown or not reply.text:
            return {**payload, "sent": {**asdict(where), "status": bool(shown)}}
    if "user" in payload:
        user = IdentityKey(**payload["user"])
        messenger = _messenger(messengers, user.platform)
        posted_to = messenger.notify(user, reply)
        sent = {"platform": user.platform, "user": user.external_id}
        if posted_to is not None:  # the DM message, so that it can be edited later
            sent.update(workspace=posted_to.workspace, channel=posted_to.channel, message=posted_to.message)
    elif payload.get("edit"):
        where = ConversationRef(**payload["where"])
        _messenger(messengers, where.platform).edit(where, reply)
        sent = asdict(where)
    else:
        where = ConversationRef(**payload["where"])
        posted = _messenger(messengers, where.platform).post(where, reply)
        sent = asdict(posted)
    log.info("chat post delivered", extra={"platform": sent["platform"]})
    return {**payload, "sent": sent}


def _messenger(messengers: Mapping[str, Messenger], platform: str) -> Messenger:
    messenger = messengers.get(platform)
    if messenger is None:
        raise LookupError(f"no messenger for {platform!r} in this process")
    return messenger


def failed_for_good(session: Session, payload: Mapping[str, Any], error: str) -> Job | None:
    """Queue the row's ``on_failure`` job (if it names one) once its post has failed for good."""
    hook = payload.get("on_failure")
    if not isinstance(hook, dict) or not hook.get("kind"):
        return None
    return jobs.enqueue(session, str(hook["kind"]), {**hook, "error": error[:300]})


@job(KIND)
def fan_out(ctx: JobContext, payload: Mapping[str, Any]) -> None:
    """A ``notify.user`` row from before the outbox: one post row per identity of the user."""
    user = ctx.session.get(User, int(payload["user_id"]))
    if user is not None:
        notify_later(ctx.session, user, str(payload["text"]))
