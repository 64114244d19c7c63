"""The bot removed from a chat workspace (a Discord server left, a Slack app uninstalled), for every front door.

The workspace's revenue digests are stopped (``core.workspaces``), audited, and whoever set each one is told in a
direct message on every chat platform they use (the one they were removed from may no longer deliver it).
"""

from __future__ import annotations

from bot.runtime import Runtime
from commands.handlers.notify import notify_later
from core import workspaces
from storage.models import DigestTarget, User

KINDS = {"discord": "the Discord server", "slack": "the Slack workspace"}
"""How each platform's workspace is named in the notice."""


def record_removed(runtime: Runtime, platform: str, workspace: str, name: str) -> int:
    """Stop the digests of ``workspace`` and tell whoever set them; how many were stopped (0 the second time)."""
    with runtime.db.unit_of_work() as session:
        stopped = workspaces.bot_removed(session, platform, workspace, name)
        for target in stopped:
            setter = session.get(User, target.set_by_id) if target.set_by_id is not None else None
            if setter is not None:
                notify_later(session, setter, removed_notice(target, platform, name, runtime.config.command))
        return len(stopped)


def removed_notice(target: DigestTarget, platform: str, name: str, command: str) -> str:
    """The direct message to whoever set a digest the removal stopped (``name``: the workspace's, if known)."""
    kind = KINDS.get(platform, "a workspace")
    named = f"{kind} *{name}*" if name else kind.replace("the ", "a ", 1)
    return (f"RAD was removed from {named}, so the {target.cadence.value} revenue digest in "
            f"<#{target.channel}> is stopped. Add the bot back and run `/{command} admin digest here "
            f"{target.cadence.value}` in that channel to start it again, or choose another channel.")
