"""The chat workspaces the bot is in (a Discord server, a Slack workspace): being added and being removed.

Being added is recorded in the audit log. Being removed means the bot can post nowhere in that workspace any
more, so every active revenue digest target there is stopped: marked broken with the reason, as a channel the
bot cannot post in is (``core.revenue.digests.break_target``), and audited. The caller tells whoever set each
target. A target stopped this way stays stopped if the bot is added back: someone runs
``/rad admin digest here`` again, as for any broken target. A removal while the bot was not connected is
found when it connects again: a workspace of :func:`digest_workspaces` it is no longer in.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from core import audit
from core.revenue import digests
from storage.models import DigestTarget, DigestTargetStatus

NAME_MAX = 100


def workspace_target(platform: str, workspace: str) -> str:
    """The audit target naming a workspace."""
    return f"workspace:{platform}:{workspace}"


def digest_workspaces(session: Session, platform: str) -> list[str]:
    """The workspaces of ``platform`` holding an active digest target (to check the bot is still in them)."""
    return list(session.scalars(select(DigestTarget.workspace).distinct().where(
        DigestTarget.platform == platform, DigestTarget.status == DigestTargetStatus.ACTIVE)
        .order_by(DigestTarget.workspace)))


def bot_added(session: Session, platform: str, workspace: str, name: str) -> None:
    """The bot was added to ``workspace``; audited."""
    audit.record(session, None, "workspace.added", target=workspace_target(platform, workspace),
                 platform=platform, name=name[:NAME_MAX])


def bot_removed(session: Session, platform: str, workspace: str, name: str) -> list[DigestTarget]:
    """The bot was removed from ``workspace``: its active digest targets there are stopped; audited.

    Returns the targets it stopped (none the second time: a stopped target is no longer active).
    """
    ids = list(session.scalars(select(DigestTarget.id).where(
        DigestTarget.platform == platform, DigestTarget.workspace == workspace,
        DigestTarget.status == DigestTargetStatus.ACTIVE).order_by(DigestTarget.id)))
    reason = f"the bot was removed from {name[:NAME_MAX] or workspace}"
    stopped = [target for target in (digests.break_target(session, target_id, None, reason) for target_id in ids)
               if target is not None]
    audit.record(session, None, "workspace.removed", target=workspace_target(platform, workspace),
                 platform=platform, name=name[:NAME_MAX], digests_stopped=len(stopped))
    return stopped
