"""A deployment run's chat messages, posted by a thread of their own: the run never waits on the chat platform.

The status message is posted first (its reference stored on the deployment, so any process can edit it later)
and then edited in place at each step; replies go in its thread; all in the order given. The run hands its
messages over and goes on; :meth:`RunChat.close` waits for what is left once the run is recorded.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from dataclasses import dataclass

from sqlalchemy import update

from commands.framework.messenger import Messenger
from commands.ui.model import Reply
from core.conversations import ConversationRef
from storage.db import Database, again_if_lost
from storage.models import Deployment

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Message:
    reply: Reply
    status: bool
    """The status message's new content (else a reply in its thread)."""


class RunChat:
    """The messages of one run, posted in order by a daemon thread."""

    def __init__(self, db: Database, messengers: dict[str, Messenger], deployment_id: int,
                 where: ConversationRef | None, *, name: str = "run-chat") -> None:
        self.db, self.messengers, self.deployment_id = db, messengers, deployment_id
        self.where = where
        """The status message once posted (else its channel): every later status edits it."""
        self._pending: deque[_Message] = deque()
        self._changed = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._post_all, name=name, daemon=True)
        self._thread.start()

    def status(self, reply: Reply) -> None:
        """Show ``reply`` as the status message."""
        with self._changed:
            self._pending.append(_Message(reply, status=True))
            self._changed.notify()

    def reply(self, reply: Reply) -> None:
        """Post ``reply`` in the status message's thread, after what was handed over before it."""
        with self._changed:
            self._pending.append(_Message(reply, status=False))
            self._changed.notify()

    def close(self) -> None:
        """Post what is left, then stop the thread (the caller waits for it)."""
        with self._changed:
            self._closed = True
            self._changed.notify()
        self._thread.join()

    def _post_all(self) -> None:
        while True:
            with self._changed:
                while not self._pending and not self._closed:
                    self._changed.wait()
                if not self._pending:
                    return
                message = self._pending.popleft()
            try:
                self._show(message.reply) if message.status else self._thread_reply(message.reply)
            except Exception:  # a message lost to a bug must never stop the others
                log.exception("could not post a deployment message")

    def _show(self, reply: Reply) -> None:
        """Edit the status message; post it first when it is not there yet (also after a failed post)."""
        where = self.where
        if where is None or where.message:
            self._send(where, reply, edit=True)
            return
        posted = self._send(where, reply, edit=False)
        if posted is not None and posted.message:
            self.where = posted  # edited from now on, even if recording it below fails: never posted twice
            again_if_lost(lambda: self._remember(posted), "status message")

    def _remember(self, posted: ConversationRef) -> None:
        """Store the status message on the deployment, so any process can edit it later."""
        with self.db.unit_of_work() as session:
            session.execute(update(Deployment).where(Deployment.id == self.deployment_id)
                            .values(chat_message=posted.message))

    def _thread_reply(self, reply: Reply) -> None:
        where = self.where
        if where is not None:
            self._send(where.in_thread(where.thread or where.message), reply, edit=False)

    def _send(self, where: ConversationRef | None, reply: Reply, *, edit: bool) -> ConversationRef | None:
        messenger = self.messengers.get(where.platform) if where is not None else None
        if messenger is None or where is None or not where.channel:
            return None
        try:
            if edit:
                messenger.edit(where, reply)
                return where
            return messenger.post(where, reply)
        except Exception:  # chat being down must never lose the run's result (it is in the database)
            log.exception("could not update the deployment message", extra={"platform": where.platform})
            return None
