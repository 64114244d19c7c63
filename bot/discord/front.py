"""From Discord interactions and thread messages to the dispatcher, and its outcome back as messages.

The dispatcher is synchronous: it runs in a worker thread (``asyncio.to_thread``). When it takes longer
than ``defer_after`` seconds the interaction is deferred first, so Discord's 3-second limit holds, and
the answer follows by editing the deferred response. Slow commands, actions and forms (their handlers
call GitHub or Jules) are deferred at once: a command or form privately ("thinking…"), a click (or a
search typed in the modal of a search button) as a deferred update of its message, which the outcome
then edits. The interaction id is the delivery key, so an interaction delivered twice runs once (in
memory here, and in the database across restarts).
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import discord
from discord import app_commands

from bot.discord import answer, ids
from bot.discord.controls import ButtonSpec
from bot.discord.drafts import Draft, DraftStore
from bot.discord.forms import build_modal, convert, errors_notice, next_step_notice, read_components, steps
from bot.discord.render import notice, render_reply
from bot.discord.search import search_modal, typed_text
from bot.discord.tree import CHOICES_MAX, choices
from bot.runtime import Runtime
from commands.framework.registry import ActionEvent
from commands.ui.model import Form, FormErrors, Input, Outcome, Reply
from core.accounts.identity import Caller, IdentityKey
from core.conversations import ConversationRef

log = logging.getLogger(__name__)

SEEN_MAX = 10_000
SUGGEST_WITHIN = 2.5
"""Seconds an autocomplete may take: Discord allows 3 and an autocomplete cannot be deferred."""
STALE = (":warning: That button or form is from an older version of RAD and no longer works. "
         "Run `/{command} help` to start again.")
EXPIRED = ":hourglass: This form has expired. Run the command again to start over."
NOT_YOURS = ":no_entry: This form belongs to someone else. Run the command yourself to get your own."


def caller_of(user: discord.abc.User) -> Caller:
    """The caller behind a Discord user, with their display name."""
    return Caller(IdentityKey("discord", "", str(user.id)), user.display_name)


def where_of(interaction: discord.Interaction) -> ConversationRef:
    """Where an interaction happened; in a thread, ``channel`` is its parent and ``thread`` the thread."""
    guild = str(interaction.guild_id or "")
    message = str(interaction.message.id) if interaction.message is not None else ""
    channel = interaction.channel
    if isinstance(channel, discord.Thread):
        return ConversationRef("discord", guild, str(channel.parent_id), str(channel.id), message)
    return ConversationRef("discord", guild, str(interaction.channel_id or ""), "", message)


def delivery(interaction: discord.Interaction) -> str:
    """The delivery id of an interaction, by which the dispatcher runs a re-delivered one once."""
    return f"discord:{interaction.id}"


def option_value(value: Any) -> str | int | IdentityKey | None:
    """A slash-command option as the dispatcher takes it; a user becomes its identity key, with their name."""
    if isinstance(value, discord.User | discord.Member):
        return IdentityKey("discord", "", str(value.id), value.display_name)
    return value if isinstance(value, str | int) or value is None else str(value)


class Front:
    """The Discord front door's behaviour, shared by the command tree, dynamic items and events."""

    send = staticmethod(answer.send)
    fail = staticmethod(answer.fail)

    def __init__(self, runtime: Runtime, drafts: DraftStore, *, defer_after: float = 2.0) -> None:
        self.runtime = runtime
        self.dispatcher = runtime.dispatcher
        self.drafts = drafts
        self.defer_after = defer_after
        self._seen: OrderedDict[int, None] = OrderedDict()

    def claim(self, interaction: discord.Interaction) -> bool:
        """False for an interaction this process has already handled (a re-delivery)."""
        if interaction.id in self._seen:
            log.info("duplicate interaction dropped", extra={"interaction": interaction.id})
            return False
        self._seen[interaction.id] = None
        while len(self._seen) > SEEN_MAX:
            self._seen.popitem(last=False)
        return True

    # -- entry points -------------------------------------------------------------------------------

    async def command(self, interaction: discord.Interaction, name: str, options: dict[str, Any]) -> None:
        """A slash command with its options."""
        if not self.claim(interaction):
            return
        args = {k: option_value(v) for k, v in options.items()}
        caller, where = caller_of(interaction.user), where_of(interaction)
        if self.dispatcher.is_slow_command(name, caller, args):
            await answer.defer(interaction, component=False)
        outcome = await self._call(interaction, "command", lambda: self.dispatcher.run_command(
            caller, name, args, where=where, delivery=delivery(interaction)))
        await self.respond(interaction, outcome, component=False)

    async def complete(self, interaction: discord.Interaction, provider: str, value: str,
                       current: str) -> list[app_commands.Choice[str]]:
        """Autocomplete: the provider's options matching what is typed; none if it does not answer in time."""
        work = asyncio.to_thread(self.dispatcher.suggest, caller_of(interaction.user), provider, current, value,
                                 limit=CHOICES_MAX)
        try:
            found = await asyncio.wait_for(work, SUGGEST_WITHIN)
        except TimeoutError:
            log.warning("autocomplete too slow", extra={"provider": provider})
            return []
        return choices(found)

    async def button(self, interaction: discord.Interaction, kind: str, a: str, b: str, label: str) -> None:
        """A click on one of our buttons: run, confirm first, cancel, or open a form step."""
        if not self.claim(interaction):
            return
        if kind == ids.RUN:
            await self.action(interaction, ActionEvent(a, b))
        elif kind == ids.CONFIRM:
            buttons = [ButtonSpec("Confirm", ids.encode(ids.RUN, a, b), discord.ButtonStyle.danger),
                       ButtonSpec("Cancel", ids.encode(ids.CANCEL, ""), discord.ButtonStyle.secondary)]
            await self.send(interaction, [notice(f":warning: *Are you sure?* {label}", buttons)], ephemeral=True)
        elif kind == ids.CANCEL:
            await interaction.response.edit_message(content="Cancelled.", embeds=[], view=None)
        else:
            await self.open_step(interaction, a, int(b or 0))

    async def select(self, interaction: discord.Interaction, action_id: str, value: str,
                     chosen: list[str]) -> None:
        """A choice in one of our selects: run its action with the chosen values."""
        if self.claim(interaction):
            await self.action(interaction, ActionEvent(action_id, value, tuple(chosen)))

    async def search(self, interaction: discord.Interaction, action_id: str, value: str, text: str,
                     label: str) -> None:
        """A click on a search button: the one-field modal, prefilled with the last search."""
        if self.claim(interaction):
            await interaction.response.send_modal(search_modal(action_id, value, label, text))

    async def action(self, interaction: discord.Interaction, event: ActionEvent) -> None:
        """Run an action; its outcome may replace the message it came from."""
        caller, where = caller_of(interaction.user), where_of(interaction)
        on_message = interaction.message is not None
        if self.dispatcher.is_slow_action(event.action_id):
            await answer.defer(interaction, component=on_message)
        outcome = await self._call(interaction, "component" if on_message else "modal",
                                   lambda: self.dispatcher.run_action(caller, event, where=where,
                                                                      delivery=delivery(interaction)))
        await self.respond(interaction, outcome, component=on_message)

    async def on_interaction(self, interaction: discord.Interaction) -> None:
        """What the tree and the dynamic items do not handle: modal submissions and stale custom ids."""
        data: dict[str, Any] = dict(interaction.data or {})
        custom_id = str(data.get("custom_id", ""))
        if interaction.type == discord.InteractionType.modal_submit:
            parsed = ids.decode(custom_id)
            if parsed is not None and parsed.kind == ids.FORM:
                await self.submit(interaction, parsed.a, int(parsed.b), data.get("components") or [])
                return
            if parsed is not None and parsed.kind == ids.SEARCH_FORM:
                if self.claim(interaction):
                    typed = typed_text(data.get("components") or [])
                    await self.action(interaction, ActionEvent(parsed.a, parsed.b, (typed,)))
                return
        elif interaction.type != discord.InteractionType.component or ids.is_ours(custom_id):
            return
        if self.claim(interaction):
            text = STALE.format(command=self.runtime.config.command)
            await self.send(interaction, [notice(text)], ephemeral=True)

    # -- forms --------------------------------------------------------------------------------------

    async def open_form(self, interaction: discord.Interaction, form: Form) -> None:
        """A modal when Discord allows one here, else a button that opens it."""
        draft = await asyncio.to_thread(self.drafts.create, str(interaction.user.id), form)
        if interaction.response.is_done() or interaction.type == discord.InteractionType.modal_submit:
            await self.send(interaction, [next_step_notice(draft, 0)], ephemeral=True)
        else:
            await interaction.response.send_modal(build_modal(draft, 0))

    async def open_step(self, interaction: discord.Interaction, token: str, step: int) -> None:
        """Open step ``step`` of a draft's form (a click on its next-step button)."""
        draft = await self._draft(interaction, token)
        if draft is not None:
            await interaction.response.send_modal(build_modal(draft, min(step, len(steps(draft.form)) - 1)))

    async def submit(self, interaction: discord.Interaction, token: str, step: int,
                     components: list[dict[str, Any]]) -> None:
        """One modal step: keep its values; after the last step, submit the whole form."""
        if not self.claim(interaction):
            return
        draft = await self._draft(interaction, token)
        if draft is None:
            return
        chunks = steps(draft.form)
        chunk = chunks[min(step, len(chunks) - 1)]
        values, errors = convert(chunk, read_components(components))
        draft.values.update(values)
        if not errors and step + 1 < len(chunks) and draft.form.part_action:
            checked = await self.check_part(interaction, draft, chunk)
            if isinstance(checked, Reply):
                await self.respond(interaction, checked, component=False)
                return
            errors = checked
        if errors or step + 1 < len(chunks):
            await asyncio.to_thread(self.drafts.save, draft)
            shown = errors_notice(draft, errors) if errors else next_step_notice(draft, step + 1)
            await self.send(interaction, [shown], ephemeral=True)
            return
        form, caller, where = draft.form, caller_of(interaction.user), where_of(interaction)
        complete = {i.name: draft.values.get(i.name) for i in form.inputs}
        slow = self.dispatcher.is_slow_form(form.action_id)
        if slow:  # it calls GitHub or Jules: never risk Discord's 3 seconds
            await answer.defer(interaction, component=False)
        outcome = await self._call(interaction, "modal", lambda: self.dispatcher.submit_form(
            caller, form.action_id, complete, form.state, where=where, delivery=delivery(interaction)))
        if isinstance(outcome, FormErrors):
            await asyncio.to_thread(self.drafts.save, draft)
            await self.send(interaction, [errors_notice(draft, outcome.errors)], ephemeral=True)
            return
        self.drafts.forget_secrets(token)
        await self.respond(interaction, outcome, component=False)

    async def check_part(self, interaction: discord.Interaction, draft: Draft,
                         chunk: tuple[Input, ...]) -> dict[str, str] | Reply:
        """The form's own checks of one modal's values (``Form.part_action``) before the next modal is offered.

        Returns the errors by input name (empty when the part is fine), or the Reply the check answered instead
        (the form expired, say).
        """
        form, caller, where = draft.form, caller_of(interaction.user), where_of(interaction)
        part = {i.name: draft.values.get(i.name) for i in chunk}
        outcome = await self._call(interaction, "modal", lambda: self.dispatcher.submit_form(
            caller, form.part_action, part, form.state, where=where))
        if isinstance(outcome, Reply):
            return outcome
        return dict(outcome.errors) if isinstance(outcome, FormErrors) else {}

    async def _draft(self, interaction: discord.Interaction, token: str) -> Draft | None:
        """The caller's draft, or None after telling them it expired or is not theirs."""
        draft = await asyncio.to_thread(self.drafts.load, token)
        problem = EXPIRED if draft is None else (NOT_YOURS if draft.user != str(interaction.user.id) else "")
        if problem:
            await self.send(interaction, [notice(problem)], ephemeral=True)
            return None
        return draft

    # -- threads ------------------------------------------------------------------------------------

    async def thread_message(self, message: discord.Message, where: ConversationRef, text: str) -> None:
        """A message in a thread: the bound thread handler answers in the same thread."""
        outcome = await asyncio.to_thread(self.dispatcher.thread_message, caller_of(message.author), where, text,
                                          delivery=f"discord:message:{message.id}")
        if isinstance(outcome, Form):
            draft = await asyncio.to_thread(self.drafts.create, str(message.author.id), outcome)
            outcome_messages = [next_step_notice(draft, 0)]
        elif isinstance(outcome, Reply):
            outcome_messages = render_reply(outcome)
        else:
            return
        for out in outcome_messages:
            await message.channel.send(**out.send_kwargs())

    # -- answering ----------------------------------------------------------------------------------

    async def _call(self, interaction: discord.Interaction, mode: str,
                    work: Callable[[], Outcome | None]) -> Outcome | None:
        """Run ``work`` in a thread; defer the interaction (unless it was) if it takes longer than ``defer_after``."""
        task = asyncio.ensure_future(asyncio.to_thread(work))
        if interaction.response.is_done():
            return await task
        try:
            return await asyncio.wait_for(asyncio.shield(task), self.defer_after)
        except TimeoutError:
            await answer.defer(interaction, component=mode == "component")
            return await task

    async def respond(self, interaction: discord.Interaction, outcome: Outcome | None, *, component: bool) -> None:
        """Show a dispatcher outcome; None (a re-delivery) shows nothing."""
        if outcome is None:
            await answer.settle(interaction)
            return
        if isinstance(outcome, Form):
            await self.open_form(interaction, outcome)
            return
        if isinstance(outcome, FormErrors):
            outcome = Reply(text=":warning: " + " ".join(outcome.errors.values()))
        await self.send(interaction, render_reply(outcome), ephemeral=outcome.ephemeral,
                        replace=component and outcome.replace_original)


def front_of(client: discord.Client) -> Front:
    """The ``Front`` a RAD client carries (dynamic items only get the interaction)."""
    front = getattr(client, "front", None)
    if not isinstance(front, Front):
        raise RuntimeError("not a RAD Discord client")
    return front
