"""Where a message lives: a stored reference any process can post to or edit, and thread bindings."""

from __future__ import annotations

from dataclasses import dataclass, replace

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import ThreadBinding


@dataclass(frozen=True)
class ConversationRef:
    """A channel, optionally a thread in it, optionally one message (to edit)."""

    platform: str
    workspace: str = ""
    channel: str = ""
    thread: str = ""
    message: str = ""

    def in_thread(self, thread: str) -> ConversationRef:
        """The same channel, in ``thread``, pointing at no message."""
        return replace(self, thread=thread, message="")


def bind_thread(session: Session, where: ConversationRef, handler: str, subject: str) -> ThreadBinding:
    """Route later messages in ``where``'s thread to the thread handler ``handler``."""
    binding = find_binding(session, where)
    if binding is None:
        binding = ThreadBinding(platform=where.platform, workspace=where.workspace, channel=where.channel,
                                thread=where.thread, handler=handler, subject=subject)
        session.add(binding)
    else:
        binding.handler, binding.subject = handler, subject
    session.flush()
    return binding


def find_binding(session: Session, where: ConversationRef) -> ThreadBinding | None:
    """The binding of ``where``'s thread, or None if it has none or ``where`` is not in a thread."""
    if not where.thread:
        return None
    return session.scalars(
        select(ThreadBinding).where(
            ThreadBinding.platform == where.platform,
            ThreadBinding.workspace == where.workspace,
            ThreadBinding.channel == where.channel,
            ThreadBinding.thread == where.thread,
        )
    ).one_or_none()
