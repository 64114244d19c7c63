"""Deploy drafts: a deploy form being filled in step by step, then confirmed once.

A draft belongs to the user who opened it; it is loaded (and locked, at Confirm) only by them, and only while
they may still see its module. Sensitive values never sit in the draft: they are sealed beside it.
"""

from __future__ import annotations

import secrets as random
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.catalog import browse
from core.deployments import service as deployments
from core.errors import NotAllowed, NotFound
from core.secrets import SecretBox, open_json, replace_json
from storage.models import DeployDraft, DeployDraftStatus, Deployment, Module, User


def new_draft(session: Session, box: SecretBox, actor: User, module: Module, deployment: Deployment | None,
              now: datetime) -> DeployDraft:
    """A draft of a new deployment, or of ``deployment`` applied again (its inputs, sealed ones included)."""
    values = dict(deployment.inputs) if deployment is not None else {}
    draft = DeployDraft(token=random.token_urlsafe(8), user_id=actor.id, module_id=module.id,
                        deployment_id=deployment.id if deployment else None, commit=module.commit, values=values)
    session.add(draft)
    session.flush()
    if deployment is not None:  # applying again keeps the sealed values the user leaves empty
        seal(session, box, draft, deployments.sensitive_inputs(session, box, deployment), actor, now)
    return draft


def unfinished(session: Session, actor: User, module: Module, steps: int) -> DeployDraft | None:
    """The actor's newest form of a new deployment of ``module``, if it was left halfway.

    Left halfway: never confirmed nor reviewed (its step is below ``steps``, the number of form steps), with a
    step passed or a value given (a modal closed, a console form interrupted).
    """
    query = (select(DeployDraft)
             .where(DeployDraft.user_id == actor.id, DeployDraft.module_id == module.id,
                    DeployDraft.deployment_id.is_(None))
             .order_by(DeployDraft.id.desc()).limit(1))
    newest = session.scalars(query).one_or_none()
    if newest is None or newest.status != DeployDraftStatus.FILLING or newest.step >= steps:
        return None
    return newest if newest.step > 0 or newest.values or newest.secret_id is not None else None


def load_draft(session: Session, actor: User, token: str, *, lock: bool = False) -> tuple[DeployDraft, Module]:
    """The actor's draft ``token`` and its module (locked for update with ``lock``).

    Raises:
        NotFound: the draft expired or its module left the catalog (or the actor may no longer see it).
        NotAllowed: the draft is someone else's.
    """
    query = select(DeployDraft).where(DeployDraft.token == token)
    draft = session.scalars(query.with_for_update() if lock else query).one_or_none()
    if draft is None:
        raise NotFound("This deploy form has expired.", hint="Run `/rad deploy` again.")
    if draft.user_id != actor.id:
        raise NotAllowed("This deploy form belongs to someone else.")
    module = session.get(Module, draft.module_id) if draft.module_id else None
    if module is None:
        raise NotFound("That module was removed from the catalog.", hint="Run `/rad modules`.")
    browse.find_visible(session, actor, module.name)  # still allowed to see it?
    return draft, module


def sealed(session: Session, box: SecretBox, draft: DeployDraft) -> dict[str, Any]:
    """The draft's sensitive values, opened; never log or show them."""
    return open_json(session, box, draft.secret_id)


def seal(session: Session, box: SecretBox, draft: DeployDraft, secret: Mapping[str, Any], actor: User,
         now: datetime) -> None:
    """Replace the draft's sealed sensitive values with ``secret``."""
    draft.secret_id = replace_json(session, box, draft.secret_id, secret, kind="deploy_draft", owner_id=actor.id,
                                   now=now)
    session.flush()
