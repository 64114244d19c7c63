"""Refine a module with Jules in a chat thread: ``/rad refine``, the ✨ Refine button, the thread, the cards.

The thread's messages go to Jules; the plan has Approve / Ask for changes, the pull request Merge / Close and
then Update module; End ends the session.

Starting creates the Jules session at once (a slow command: no transaction while Jules answers) and queues
the session's first message in the channel; its thread is where the team talks to Jules (the relay binds it
once the message is posted). Every click is re-checked against the module's owner and collaborators.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping

from commands.framework.context import Context
from commands.framework.registry import ActionEvent, Param, ThreadMessage, action, command, form, thread
from commands.handlers.notify import post_later
from commands.handlers.publish import start as publish_start
from commands.ui.model import Button, Confirm, Form, FormValue, Input, Reply
from commands.views import refine as views
from core.accounts import identity
from core.accounts.identity import IdentityKey
from core.accounts.roles import PARTNER
from core.errors import Conflict, NotAllowed, RadError
from core.jules import pulls, sessions
from core.jules.sessions import AlreadyLive
from storage.models import Module, RefineDecision, RefineSession, User

MODULE = Param("module", "word", "The module's name", options="modules:names")


@command("refine", "Refine one of your modules with Jules in a new thread", params=(MODULE,), roles=(PARTNER,),
         slow=True, details="Messages in the thread go to Jules; its plan and pull request wait for the team.")
def refine(ctx: Context, module: str) -> Reply:
    """Start a Jules session on ``module`` (owner only)."""
    return start(ctx, module)


def start(ctx: Context, module: str) -> Reply:
    """Start the session and queue its first message; offers Resume or End when one is live already."""
    try:
        row = sessions.start(ctx.db, ctx.services, ctx.actor.id, module, ctx.where, ctx.now, ctx.platform)
    except AlreadyLive as live:
        return Reply(text=f":warning: {live.message}\n{live.hint}", actions=(
            Button("▶️ Resume", "refine:resume", str(live.session_id), style="primary"),
            Button("End", "refine:end", str(live.session_id), style="danger",
                   confirm=Confirm("End the Jules session?", "Jules stops; the thread stays readable.", "End"))))
    post_later(ctx.session, views.open_key(row.id), views.opening_text(row, ctx.actor.display_name),
               where=sessions.thread_ref(row), buttons=views.opening_buttons(row))
    return Reply(text=f":sparkles: Jules is starting on `{row.module_name}`: its thread opens in this channel in "
                      "a moment. Post there to talk to Jules.")


@action("modules:refine", slow=True)
def refine_button(ctx: Context, event: ActionEvent) -> Reply:
    """The ✨ Refine button of a module card: start a session on that module (re-checked for the caller)."""
    with ctx.db.unit_of_work() as session:
        found = session.get(Module, int(event.value)) if event.value.isdigit() else None
        name = found.name if found is not None else "?"
    return start(ctx, name)


@command("refine end", "End the Jules session on a module", params=(MODULE,), slow=True)
def refine_end(ctx: Context, module: str) -> Reply:
    """End the module's live session (its owner or a collaborator)."""
    with ctx.db.unit_of_work() as session:
        found = sessions.owned_or_shared(session, ctx.actor, module)
        live = sessions.live_for(session, found.id)
        if live is None:
            return Reply(text=f"`{found.name}` has no live Jules session.")
        row_id = live.id
    return end(ctx, row_id)


@action("refine:end", slow=True)
def end_button(ctx: Context, event: ActionEvent) -> Reply:
    """The End button: end the session; the thread is told who ended it."""
    with ctx.db.unit_of_work() as session:
        row_id = sessions.find(session, event.value).id
    return end(ctx, row_id)


def end(ctx: Context, row_id: int) -> Reply:
    """End the session, archive it in Jules (no transaction open) and mark the thread."""
    with ctx.db.unit_of_work() as session:
        row = session.get_one(RefineSession, row_id)
        actor = session.get_one(User, ctx.actor.id)
        if not sessions.end(session, row, actor, ctx.now, note=f"ended by {actor.display_name}",
                            platform=ctx.platform):
            return Reply(text=f"The Jules session on `{row.module_name}` has ended already ({row.end_note}).")
        key, jules_id, name = sessions.jules_key(session, ctx.services, row.owner_id), row.jules_session, \
            row.module_name
        if row.chat_thread:
            post_later(session, f"refine:{row.id}:ended", views.ended_text(row, actor.display_name, ctx.now),
                       where=sessions.thread_ref(row))
    note = ""
    try:
        with ctx.services.jules(key) as client:
            client.archive_session(jules_id)
    except RadError as error:
        note = f"\nJules did not archive it ({error.message}); it stays ended here."
    return Reply(text=f":checkered_flag: The Jules session on `{name}` has ended.{note}", ephemeral=False)


@action("refine:resume")
def resume(ctx: Context, event: ActionEvent) -> Reply:
    """Resume: the live session goes on in its thread, which is told who came back."""
    row = sessions.find(ctx.session, event.value)
    sessions.require_decider(ctx.session, row, ctx.actor, "resume its Jules session")
    if row.status not in sessions.LIVE:
        return Reply(text=f"That session has ended. Start a new one with `{ctx.slash} refine {row.module_name}`.")
    sessions.wake(row, ctx.now)
    if row.chat_thread:
        post_later(ctx.session, f"refine:{row.id}:resume:{uuid.uuid4().hex}",
                   f":arrow_forward: {ctx.actor.display_name} resumed this session: post here to talk to Jules.",
                   where=sessions.thread_ref(row))
    return Reply(text=f"The session on `{row.module_name}` continues in its thread.")


@command("refine collaborators", "Name who may approve in a module's Jules threads",
         params=(Param("module", "word", "The module's name", options="modules:names"),
                 Param("change", "choice", "Add or remove", choices=("add", "remove")),
                 Param("user", "user", "Who")), roles=(PARTNER,))
def refine_collaborators(ctx: Context, module: str, change: str, user: IdentityKey) -> Reply:
    """Add or remove a collaborator of ``module`` (its owner only); audited."""
    person = identity.require_user(ctx.session, user)
    if change == "add":
        done = sessions.add_collaborator(ctx.session, ctx.actor, module, person, ctx.platform)
        text = (f"{person.display_name} may now approve plans and merge or close pull requests of `{module}`."
                if done else f"{person.display_name} could already decide in `{module}`'s threads.")
    else:
        done = sessions.remove_collaborator(ctx.session, ctx.actor, module, person, ctx.platform)
        text = (f"{person.display_name} no longer decides in `{module}`'s threads." if done
                else f"{person.display_name} was not a collaborator of `{module}`.")
    return Reply(text=text)


# -- the thread -------------------------------------------------------------------------------------------

@thread(sessions.THREAD_HANDLER)
def thread_message(ctx: Context, message: ThreadMessage) -> Reply | None:
    """A message in a refine thread goes to Jules (sent by the relay); an ended session says so."""
    row = sessions.find(ctx.session, message.subject)
    try:
        sessions.queue_message(ctx.session, row, ctx.actor.display_name, message.text, ctx.now)
    except Conflict as ended:
        return Reply(text=f":warning: {ended.message}\n{ended.hint}", ephemeral=True, in_thread=True)
    return None


# -- the plan ---------------------------------------------------------------------------------------------

@action("refine:approve", slow=True)
def approve(ctx: Context, event: ActionEvent) -> Reply:
    """Approve the plan once (owner or collaborator, re-checked); the card says who approved it and when."""
    row_id, _, plan_id = event.value.partition(":")
    with ctx.db.unit_of_work() as session:
        row = sessions.find(session, row_id)
        actor = session.get_one(User, ctx.actor.id)
        if row.plan_id != plan_id:
            sessions.require_decider(session, row, actor, "approve its plan")
            return Reply(text="Jules replaced this plan with a newer one: see the latest plan in the thread.")
        if not sessions.decide_plan(session, row, actor, plan_id, RefineDecision.APPROVED, ctx.now, ctx.platform):
            return views.plan_reply(row, views.decider(session, row.plan_decided_by)).replacing()
        key, jules_id = sessions.jules_key(session, ctx.services, row.owner_id), row.jules_session
    try:
        with ctx.services.jules(key) as client:
            client.approve_plan(jules_id)
    except Conflict:
        pass  # Jules has no plan waiting: it was approved there already, so the approval stands
    except RadError:
        with ctx.db.unit_of_work() as session:
            sessions.undo_plan(session, int(row_id), plan_id)
        raise
    with ctx.db.unit_of_work() as session:
        row = session.get_one(RefineSession, int(row_id))
        sessions.wake(row, ctx.now)
        return views.plan_reply(row, ctx.actor.display_name).replacing()


@action("refine:changes")
def ask_changes(ctx: Context, event: ActionEvent) -> Form | Reply:
    """Ask for changes: a form for what should change (owner or collaborator)."""
    row = sessions.find(ctx.session, event.value.partition(":")[0])
    sessions.require_decider(ctx.session, row, ctx.actor, "ask for changes to its plan")
    return Form("Ask Jules for changes", "refine:changes", (
        Input("changes", "What should change in the plan?", "multiline", max_length=2000),), "Send", event.value)


@form("refine:changes", slow=True)
def changes_submitted(ctx: Context, values: Mapping[str, FormValue], state: str) -> Reply:
    """Send the requested changes to Jules; the plan card says who asked and when."""
    row_id, _, plan_id = state.partition(":")
    row = sessions.find(ctx.session, row_id)
    text = str(values.get("changes") or "").strip()
    if row.plan_id != plan_id:
        return Reply(text="Jules replaced this plan with a newer one: see the latest plan in the thread.")
    if not sessions.decide_plan(ctx.session, row, ctx.actor, plan_id, RefineDecision.CHANGES, ctx.now,
                                ctx.platform):
        return Reply(text=views.decided_line(row, views.decider(ctx.session, row.plan_decided_by)))
    sessions.queue_message(ctx.session, row, ctx.actor.display_name, f"Please revise the plan: {text}", ctx.now)
    views.edit_plan_card(ctx.session, row, ctx.actor.display_name)
    return Reply(text="Sent to Jules: a revised plan will follow in the thread.")


# -- the pull request -----------------------------------------------------------------------------------

@action("refine:merge", slow=True)
def merge(ctx: Context, event: ActionEvent) -> Reply:
    """Merge the pull request (squash) with the owner's GitHub token; then offer Update module."""
    return decide_pull(ctx, event.value, RefineDecision.MERGED)


@action("refine:close", slow=True)
def close(ctx: Context, event: ActionEvent) -> Reply:
    """Close the pull request without merging it."""
    return decide_pull(ctx, event.value, RefineDecision.CLOSED)


def decide_pull(ctx: Context, value: str, decision: RefineDecision) -> Reply:
    """Merge or close once; GitHub's answer (conflicts, merged or closed there already) updates the card."""
    with ctx.db.unit_of_work() as session:
        row = sessions.find(session, value)
        actor = session.get_one(User, ctx.actor.id)
        if not row.pr_url:
            raise Conflict("This session has no pull request yet.")
        if not sessions.decide_pull(session, row, actor, decision, ctx.now, ctx.platform):
            return views.pull_reply(row, views.decider(session, row.pr_decided_by)).replacing()
        target = pulls.target(session, ctx.services, row)
    outcome = pulls.merge(ctx.services, target, row.id) if decision == RefineDecision.MERGED \
        else pulls.close(ctx.services, target)
    with ctx.db.unit_of_work() as session:
        row = session.get_one(RefineSession, row.id)
        pulls.record(session, row, outcome)
        who = ctx.actor.display_name if outcome.by_us else views.decider(session, row.pr_decided_by)
        return views.pull_reply(row, who, note=outcome.note).replacing()


@action("refine:update", slow=True)
def update_module(ctx: Context, event: ActionEvent) -> Reply:
    """Update module: rescan the repository and open the publish page on that module (its owner only)."""
    with ctx.db.unit_of_work() as session:
        row = sessions.find(session, event.value)
        if row.owner_id != ctx.actor.id:
            raise NotAllowed(f"Only the owner of `{row.module_name}` publishes it.")
        if row.pr_decision != RefineDecision.MERGED:
            raise Conflict("The pull request is not merged: there is nothing new to publish.")
        name = row.module_name
    return publish_start(ctx, "partner", name)
