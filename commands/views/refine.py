"""What a refine thread shows: its first message, the status line, the plan card and the pull request card.

Each decision names who took it and when. Shared by the handlers and the relay.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from commands.handlers.notify import POST_KIND, post_later
from commands.ui.model import Button, Confirm, Reply
from core.conversations import ConversationRef
from core.jules import sessions
from storage.models import Job, RefineDecision, RefineSession, User

TEXT_MAX = 3500
"""Room for Jules' text in one message (renderers split longer ones; this keeps a thread readable)."""
DECISIONS = {RefineDecision.APPROVED: "✅ Approved", RefineDecision.CHANGES: "✏️ Changes asked",
             RefineDecision.MERGED: "✅ Merged", RefineDecision.CLOSED: "🚫 Closed"}


def open_key(row_id: int) -> str:
    """The outbox key of the session's first message (its thread is the session's thread)."""
    return f"refine:{row_id}:open"


def plan_key(row_id: int, plan_id: str) -> str:
    """The outbox key of a plan's card."""
    return f"refine:{row_id}:plan:{plan_id}"


def pull_key(row_id: int, url: str) -> str:
    """The outbox key of a pull request's card."""
    return f"refine:{row_id}:pull:{url[-80:]}"


def when(moment: datetime | None) -> str:
    """``YYYY-MM-DD HH:MM UTC``."""
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "just now"


def clip(text: str, limit: int = TEXT_MAX) -> str:
    """``text`` cut at ``limit`` characters, saying so."""
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"


def decider(session: Session, user_id: int | None) -> str:
    """The name of who decided (``someone on GitHub or in Jules`` when it was not taken in chat)."""
    user = session.get(User, user_id) if user_id is not None else None
    return user.display_name if user is not None else "someone outside the chat (on GitHub or in Jules)"


def posted(session: Session, key: str) -> tuple[ConversationRef | None, Job | None]:
    """The message an outbox row posted (None until the worker delivered it) and the row itself."""
    job = session.scalars(select(Job).where(Job.kind == POST_KIND, Job.payload["key"].as_string() == key)).first()
    sent = (job.payload or {}).get("sent") if job is not None else None
    if not isinstance(sent, dict) or not sent.get("message"):
        return None, job
    fields = {k: str(sent.get(k, "")) for k in ("platform", "workspace", "channel", "thread", "message")}
    return ConversationRef(**fields), job


# -- the first message ---------------------------------------------------------------------------------------

def opening_text(row: RefineSession, starter: str) -> str:
    """The session's first message in the channel: what it is, who started it, how to take part."""
    return (f":sparkles: *Refining `{row.module_name}` with Jules* (started by {starter}, branch `{row.branch}`)\n"
            "Jules is analysing the module's variables and features. Post in this thread to talk to Jules: ask it "
            "to refactor, add a feature or fix a bug. Its plan and its pull request wait for the module's owner or "
            "a collaborator to approve them.")


def opening_buttons(row: RefineSession) -> tuple[Button, ...]:
    """End, and a link to the session in Jules."""
    buttons = [Button("End", "refine:end", str(row.id), style="danger",
                      confirm=Confirm("End the Jules session?", "Jules stops; the thread stays readable.", "End"))]
    if row.jules_url.startswith("https://"):
        buttons.append(Button.link("Open in Jules", row.jules_url, style="default"))
    return tuple(buttons)


def intro_text(row: RefineSession) -> str:
    """The thread's first reply (on Discord it opens the thread)."""
    return (f"This thread talks to Jules about `{row.module_name}`. Every message here is sent to Jules; its "
            "answers, progress, plan and pull request appear here.")


def ended_text(row: RefineSession, by: str, at: datetime) -> str:
    """The thread's mark when the session ends."""
    return (f":checkered_flag: Session ended by {by} at {when(at)}. Messages here no longer reach Jules; "
            f"start again with `/rad refine {row.module_name}`.")


# -- the plan --------------------------------------------------------------------------------------------------

def plan_text(row: RefineSession) -> str:
    """The plan card's text: its steps."""
    return f":clipboard: *Jules' plan for `{row.module_name}`*\n{clip(row.plan_steps)}"


def decided_line(row: RefineSession, who: str) -> str:
    """Who decided the plan and when."""
    label = DECISIONS.get(row.plan_decision or RefineDecision.PENDING, "Decided")
    return f"{label} by {who} at {when(row.plan_decided_at)}."


def plan_buttons(row: RefineSession) -> tuple[Button, ...]:
    """Approve and Ask for changes (value: session row and plan, ids only)."""
    value = f"{row.id}:{row.plan_id}"
    return (Button("Approve", "refine:approve", value, style="primary"),
            Button("Ask for changes", "refine:changes", value))


def plan_reply(row: RefineSession, who: str) -> Reply:
    """The plan card once decided: its steps and the decision, no buttons."""
    return Reply(text=f"{plan_text(row)}\n\n{decided_line(row, who)}", ephemeral=False)


def edit_plan_card(session: Session, row: RefineSession, who: str) -> None:
    """Edit the posted plan card to the decision (nothing when it is not posted yet: it is posted decided)."""
    ref, job = posted(session, plan_key(row.id, row.plan_id))
    text = f"{plan_text(row)}\n\n{decided_line(row, who)}"
    if ref is not None:
        post_later(session, f"refine:{row.id}:plan-decided:{row.plan_id}", text, where=ref, edit=True)
    elif job is not None:
        job.payload = {**job.payload, "text": text, "buttons": []}


# -- the pull request -------------------------------------------------------------------------------------

def diff_summary(patch: str) -> str:
    """Files changed with their added and removed lines, from a unified diff."""
    files: dict[str, list[int]] = {}
    current = ""
    for line in patch.splitlines():
        header = re.match(r"diff --git a/(\S+) b/(\S+)", line)
        if header:
            current = header.group(2)
            files.setdefault(current, [0, 0])
        elif current and line.startswith("+") and not line.startswith("+++"):
            files[current][0] += 1
        elif current and line.startswith("-") and not line.startswith("---"):
            files[current][1] += 1
    lines = [f"• `{name}` +{added} −{removed}" for name, (added, removed) in list(files.items())[:20]]
    if len(files) > 20:
        lines.append(f"… and {len(files) - 20} more files")
    return "\n".join(lines)


def pull_text(row: RefineSession) -> str:
    """The pull request card's text: title, link and the diff summary."""
    summary = row.pr_summary or "(no diff summary)"
    return f":twisted_rightwards_arrows: *Pull request: {row.pr_title or row.pr_url}*\n{row.pr_url}\n{summary}"


def pull_buttons(row: RefineSession) -> tuple[Button, ...]:
    """Merge, Close and the link."""
    return (Button("Merge", "refine:merge", str(row.id), style="primary"),
            Button("Close", "refine:close", str(row.id), style="danger"),
            Button.link("Open on GitHub", row.pr_url, style="default"))


def pull_reply(row: RefineSession, who: str, note: str = "") -> Reply:
    """The pull request card after a click: the decision (or still waiting, with GitHub's reason)."""
    text = pull_text(row)
    if row.pr_decision in (RefineDecision.MERGED, RefineDecision.CLOSED):
        text += f"\n\n{DECISIONS[row.pr_decision]} by {who} at {when(row.pr_decided_at)}."
    if note:
        text += f"\n{note}"
    actions: tuple[Button, ...] = ()
    if row.pr_decision == RefineDecision.PENDING:
        actions = pull_buttons(row)
    elif row.pr_decision == RefineDecision.MERGED:
        text += f"\nUpdate module rescans the repository and publishes the new `{row.module_name}`."
        actions = (Button("Update module", "refine:update", str(row.id), style="primary"),)
    return Reply(text=text, actions=actions, ephemeral=False)


def status_ref(row: RefineSession) -> ConversationRef:
    """The status message of the session, to edit in place."""
    return replace(sessions.thread_ref(row), message=row.status_message)
