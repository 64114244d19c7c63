"""Publish drafts: the selection a partner (or an admin) makes on a publish page, applied once.

A draft belongs to the user who opened it and to the scan it was made from; it is loaded (and locked, when
applied) only by them.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import NotAllowed, NotFound
from storage.models import PublishDraft, User

QUERY_MAX = 40
"""The longest search a publish page keeps."""


def new_draft(session: Session, actor: User, connection_id: int, commit: str, query: str,
              selected: Iterable[str]) -> PublishDraft:
    """A draft of the publish page for ``connection_id`` at ``commit``, with ``selected`` ticked."""
    draft = PublishDraft(token=secrets.token_urlsafe(8), user_id=actor.id, connection_id=connection_id,
                         commit=commit, query=query[:QUERY_MAX], selected=list(selected))
    session.add(draft)
    session.flush()
    return draft


def load_draft(session: Session, actor: User, token: str, *, lock: bool = False) -> PublishDraft:
    """The actor's draft ``token`` (the part before any ``:``), locked for update with ``lock``.

    Raises:
        NotFound: the draft expired.
        NotAllowed: the draft is someone else's.
    """
    query = select(PublishDraft).where(PublishDraft.token == token.split(":")[0])
    draft = session.scalars(query.with_for_update() if lock else query).one_or_none()
    if draft is None:
        raise NotFound("This publish list has expired.", hint="Run `/rad publish` again.")
    if draft.user_id != actor.id:
        raise NotAllowed("This publish list belongs to someone else.", hint="Run `/rad publish` yourself.")
    return draft
