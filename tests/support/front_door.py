"""One scenario, every front door: a neutral way to drive the bot through Slack or Discord.

``SlackDoor`` sends signed HTTP requests into the real Bolt app (``slack_support.Harness``); ``DiscordDoor``
feeds INTERACTION_CREATE payloads into the real discord.py client (``discord_harness.Harness``). Both answer
with a ``Reply``: the visible text (markup stripped), the buttons, whether only the user sees it and whether
it replaced the message that was clicked. The platform checks stay inside each door: every Slack payload is
validated by the Slack emulator's Block Kit models, every Discord call against Discord's API description.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
import zlib
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import pytest
from sqlalchemy.orm import Session

from bot.discord.tree import BARE_NAME
from bot.processes import messengers
from bot.slack.elements import decode_action_id
from bot.worker import Worker
from commands.framework.registry import Registry
from core.accounts.identity import IdentityKey
from core.config import Config
from core.conversations import ConversationRef, bind_thread
from storage.db import Database
from tests.emulators import discord_objects as obj
from tests.support import discord_harness as dh
from tests.support import slack_support as sh
from tests.support.discord_spec import validate_call, validate_schema

EPHEMERAL = 64
WORKING = "Working on it"
SLACK_OTHER_THREAD = "1600000000.000001"
DISCORD_THREAD, DISCORD_OTHER_THREAD = "800000000000000100", "800000000000000300"


@dataclass(frozen=True)
class Person:
    """A user by name; each door gives them the platform's id (``admin`` is the bootstrap admin)."""

    name: str


ADMIN = Person("admin")


@dataclass(frozen=True)
class Button:
    """A button as the user sees it: its label and the platform's id for it."""

    label: str
    id: str
    value: str = ""
    key: str = ""  # what it does, the same in every rendering: action id and value, or the custom id
    style: str = "default"  # or primary, danger
    action: str = ""  # the action id it runs
    source: Any = field(default=None, repr=False, compare=False)  # the message it is on (Discord)


@dataclass
class Card:
    """A card as the user sees it: its title, text, fields by label and the buttons shown with it."""

    title: str
    text: str
    fields: dict[str, str]
    buttons: list[Button]


@dataclass
class Choice:
    """A select menu: the values it offers, those shown chosen, and whether several can be chosen."""

    options: list[str]
    chosen: list[str]
    multi: bool
    raw: dict[str, Any] = field(repr=False)
    source: Any = field(default=None, repr=False)  # the message it is on (Discord)


@dataclass
class Reply:
    """What the bot answered, neutrally: text without markup, buttons, privacy, in-place update."""

    text: str
    buttons: list[Button]
    private: bool
    replaced: bool
    raw: dict[str, Any] = field(repr=False)
    source: Any = field(default=None, repr=False)  # what a click on this reply needs (message or hook)
    cards: list[Card] = field(default_factory=list)
    selects: list[Choice] = field(default_factory=list)
    marked: str = field(default="", repr=False)  # the text with the platform's markup, as sent
    parts: list[dict[str, Any]] = field(default_factory=list, repr=False)  # its messages (Discord splits)
    waited: bool = False  # a placeholder (Slack) or a deferral (Discord) came first
    wait: bool = False  # it is itself that placeholder or deferral
    at: float = 0.0  # when the platform received it (time.monotonic)
    clicked: Any = field(default=None, repr=False)  # the message clicked (Discord) or the click's hook (Slack)

    def button(self, label: str) -> Button:
        """The button labelled ``label`` (or starting with it)."""
        for found in self.buttons:
            if found.label.startswith(label) or found.label.endswith(label):
                return found
        raise AssertionError(f"no button {label!r} among {[b.label for b in self.buttons]}")

    @property
    def titles(self) -> list[str]:
        """The cards' titles, in order."""
        return [c.title for c in self.cards]

    def card(self, title: str) -> Card:
        """The card titled ``title``."""
        for found in self.cards:
            if found.title == title:
                return found
        raise AssertionError(f"no card {title!r} among {self.titles}")

    def select(self) -> Choice:
        """The reply's only select menu."""
        [found] = self.selects
        return found


@dataclass
class Sent:
    """A request sent to the bot, its answer read later (``first``, ``answer``), e.g. while a handler waits."""

    raw: dict[str, Any] = field(repr=False)  # Discord: the interaction; Slack: the payload (empty for a command)
    hook: str = ""  # Slack: the request's response_url
    clicked: Any = field(default=None, repr=False)  # the message clicked (Discord) or the click's hook (Slack)
    private: bool = True  # whether the message clicked was private
    kind: str = ""  # "form" for a form submission (Slack answers it in a message of its own)
    before: int = 0  # Slack: the private messages posted before the submission
    at: float = 0.0  # Slack: when the submission was acknowledged
    user: str = ""  # the platform's id of who sent it


@dataclass
class Form:
    """A form (a Slack modal, a Discord modal) the bot opened: its id and its inputs by name."""

    id: str
    inputs: dict[str, dict[str, Any]]
    raw: dict[str, Any] = field(repr=False)

    def secret(self, name: str) -> bool:
        """Whether input ``name`` is a single text input that comes empty (never prefilled)."""
        found = self.inputs[name]
        return found.get("type") in ("plain_text_input", 4) and not found.get("initial_value") and \
            "value" not in found


class FrontDoor(Protocol):
    """Drive the bot as a chat user would, whatever the platform."""

    platform: str

    def mention(self, person: Person) -> str:
        """How the bot writes a mention of ``person`` on this platform."""

    async def command(self, words: str, args: Mapping[str, Any] | None = None, *,
                      user: Person = ADMIN) -> Reply:
        """``/rad <words>`` with named arguments (in their declared order), answered."""

    async def click(self, reply: Reply, label: str, *, user: Person = ADMIN) -> Reply:
        """A click on the button labelled ``label`` in ``reply``, answered."""

    async def click_stale(self, button_id: str, *, user: Person = ADMIN) -> Reply:
        """A click on a button of an old message whose id the bot no longer knows."""

    async def click_danger(self, reply: Reply, *, user: Person = ADMIN) -> Reply:
        """A click on the destructive button of ``reply``, confirmed the platform's way."""

    async def open_form(self, words: str, args: Mapping[str, Any] | None = None, *,
                        user: Person = ADMIN) -> Form:
        """A command that opens a form; the form."""

    async def click_form(self, reply: Reply, label: str, *, user: Person = ADMIN) -> Form:
        """A click on a button that opens a form; the form."""

    async def submit(self, form: Form, values: Mapping[str, str], *, user: Person = ADMIN) -> Reply:
        """A submission of a slow form: it closes at once; the private answer that follows."""

    async def suggest(self, reply: Reply, typed: str, *, user: Person = ADMIN) -> list[str]:
        """What the repository picker of ``reply`` suggests while ``typed`` is typed."""

    async def choose(self, reply: Reply, value: str, *, user: Person = ADMIN) -> Reply:
        """``value`` chosen with the picker of ``reply`` (any value it can search, not only those shown)."""

    async def press(self, reply: Reply, button: Button, *, user: Person = ADMIN) -> Reply:
        """A click on ``button`` of ``reply`` (one of several with the same label), answered."""

    async def pick(self, reply: Reply, values: Sequence[str], *, user: Person = ADMIN) -> Reply:
        """``values`` chosen in the select menu of ``reply`` (all that are chosen, as the platform sends them)."""

    async def search(self, reply: Reply, text: str, *, shows: str = "", label: str = "",
                     user: Person = ADMIN) -> Reply:
        """``text`` typed in the search box ``label`` of ``reply``, which showed ``shows`` before; answered."""

    async def double_click(self, reply: Reply, label: str, *, user: Person = ADMIN) -> list[Reply]:
        """Two clicks at once on ``label`` and a re-delivery of the first (dropped); the two answers."""

    def clicked_now(self, answer: Reply) -> Reply:
        """The message whose click got ``answer``, as the user sees it now."""

    async def send(self, words: str, args: Mapping[str, Any] | None = None, *, user: Person = ADMIN) -> Sent:
        """``/rad <words>`` sent; nothing read yet."""

    async def send_click(self, reply: Reply, label: str, *, user: Person = ADMIN) -> Sent:
        """A click on ``label`` of ``reply`` sent; nothing read yet."""

    async def send_search(self, reply: Reply, text: str, *, label: str = "", user: Person = ADMIN) -> Sent:
        """``text`` typed in the search box ``label`` of ``reply`` and sent; nothing read yet."""

    async def send_form(self, form: Form, values: Mapping[str, str], *, user: Person = ADMIN) -> Sent:
        """A submission of ``form`` sent; nothing read yet (Slack: the modal closed)."""

    async def fill(self, form: Form, answers: Mapping[str, str], *, user: Person = ADMIN) -> tuple[Reply, list[str]]:
        """Every step of a quick form submitted, ``answers`` over what each shows; the answer and the steps' titles."""

    async def redeliver(self, sent: Sent) -> None:
        """The platform delivers ``sent`` once more (a retry)."""

    async def first(self, sent: Sent) -> Reply:
        """What the user sees at once: a wait (``Reply.wait``, a placeholder or a deferral) or the answer."""

    async def answer(self, sent: Sent) -> Reply:
        """The outcome once the handler is done: what took the wait's place, or a message of its own."""

    async def posts(self, sent: Sent) -> int:
        """How many messages the platform received for ``sent`` so far (a wait counts as one)."""

    def sent(self) -> str:
        """Everything the bot sent to the platform so far, as one text (for secret checks)."""

    def files(self) -> dict[str, bytes]:
        """Every file the bot uploaded so far, by file name (Slack: to a channel or a direct message)."""

    def direct_messages(self, person: Person) -> list[Reply]:
        """The direct messages the bot sent ``person`` so far, oldest first, with their buttons."""

    @contextmanager
    def worker(self, clock: Callable[[], datetime]) -> Iterator[Worker]:
        """A background worker on ``clock`` whose chat posts reach this door's platform (its emulator)."""

    async def restart(self) -> None:
        """A new front-door instance, as after a process restart."""

    def identity(self, person: Person) -> IdentityKey:
        """The identity ``person`` has on this platform."""

    def bind_thread(self, session: Session, kind: str, subject: str) -> None:
        """Bind the door's test thread to thread handler ``kind`` about ``subject``."""

    def say(self, text: str, *, user: Person = ADMIN, where: str = "thread", from_bot: bool = False,
            mention_bot: bool = False) -> None:
        """A message by ``user`` in the bound ``thread``, an ``other`` thread or the ``channel``."""

    async def thread_replies(self, count: int, timeout: float = 5.0) -> list[str]:
        """The bot's messages in the bound thread (at least ``count``), text without markup."""

    async def posted_nothing(self) -> None:
        """Assert the bot posted no message anywhere (after giving it time to)."""

    def settle(self) -> None:
        """Wait until background work started by the requests so far has finished."""

    def check(self) -> None:
        """Every payload the bot sent so far, against the platform's rules (raises AssertionError)."""


def plain(text: str) -> str:
    """Text with chat markup removed (``*bold*``, ``**bold**``, ``_italic_``), for neutral assertions."""
    return re.sub(r"(\*\*|\*|__)(?=\S)(.+?)(?<=\S)\1", r"\2", text)


# -- Slack --------------------------------------------------------------------------------------------------

def slack_id(person: Person) -> str:
    return sh.ADMIN if person == ADMIN else "U" + person.name.upper().replace(" ", "")[:10]


class SlackDoor:
    """The real Bolt app behind the real HTTP server, driven by signed requests."""

    platform = "slack"

    def __init__(self, harness: sh.Harness) -> None:
        self.harness = harness

    def mention(self, person: Person) -> str:
        return f"<@{slack_id(person)}>"

    def _who(self, user: Person) -> dict[str, str]:
        return {"user": slack_id(user), "name": user.name}

    def _text(self, words: str, args: Mapping[str, Any]) -> str:
        parts = [words]
        for value in args.values():
            parts.append(f"<@{slack_id(value)}|{value.name}>" if isinstance(value, Person) else str(value))
        return " ".join(parts)

    async def command(self, words: str, args: Mapping[str, Any] | None = None, *,
                      user: Person = ADMIN) -> Reply:
        answer = self.harness.command(self._text(words, args or {}), **self._who(user))
        assert (answer.status, answer.body) == (200, ""), "a slash command is acked empty at once"
        return self._answer(answer.hook, command=True)

    async def click(self, reply: Reply, label: str, *, user: Person = ADMIN) -> Reply:
        return await self.press(reply, reply.button(label), user=user)

    async def click_stale(self, button_id: str, *, user: Person = ADMIN) -> Reply:
        answer = self.harness.click(button_id, "7", **self._who(user))
        assert (answer.status, answer.body) == (200, "")
        return self._reply(answer.hook)

    async def click_danger(self, reply: Reply, *, user: Person = ADMIN) -> Reply:
        [button] = [e for e in elements(reply.raw) if e.get("style") == "danger"]
        assert button["confirm"]["style"] == "danger", "Slack asks for confirmation in its own dialog"
        return await self.click(reply, button["text"]["text"], user=user)

    async def open_form(self, words: str, args: Mapping[str, Any] | None = None, *,
                        user: Person = ADMIN) -> Form:
        before = len(self.harness.emulator.calls("views.open"))
        answer = self.harness.command(self._text(words, args or {}), **self._who(user))
        assert (answer.status, answer.body) == (200, "")
        return self._form(before)

    async def click_form(self, reply: Reply, label: str, *, user: Person = ADMIN) -> Form:
        before = len(self.harness.emulator.calls("views.open"))
        button = reply.button(label)
        assert self.harness.click(button.id, button.value, **self._who(user)).status == 200
        return self._form(before)

    def _form(self, before: int) -> Form:
        view: dict[str, Any] = self.harness.emulator.wait_for("views.open", count=before + 1)[-1].body["view"]
        inputs = {str(b["block_id"]): b["element"] for b in view["blocks"] if b["type"] == "input"}
        return Form(str(view["callback_id"]), inputs, view)

    async def submit(self, form: Form, values: Mapping[str, str], *, user: Person = ADMIN) -> Reply:
        before = len(self.harness.emulator.calls("chat.postEphemeral"))
        state = {name: sh.typed(value) for name, value in values.items()}
        answer = self.harness.interact(self.harness.submission_body(form.raw, state, **self._who(user)))
        assert (answer.status, answer.body) == (200, ""), "an empty ack closes the modal"
        posted = self.harness.emulator.wait_for("chat.postEphemeral", count=before + 1, timeout=10)[-1].body
        assert (posted["channel"], posted["user"]) == (sh.CHANNEL, slack_id(user))
        return self._as_reply(posted, "", private=True)

    def _picker(self, reply: Reply) -> tuple[str, dict[str, Any]]:
        for block in reply.raw.get("blocks") or []:
            for element in block.get("elements") or [] if block.get("type") == "actions" else []:
                if element.get("type") in ("external_select", "static_select"):
                    return str(block.get("block_id") or "Slack-made"), element  # Slack names unnamed blocks
        raise AssertionError("no picker in the reply")

    async def suggest(self, reply: Reply, typed: str, *, user: Person = ADMIN) -> list[str]:
        block_id, picker = self._picker(reply)
        assert picker["type"] == "external_select" and picker["min_query_length"] == 0
        found = self.harness.interact(self.harness.suggestion_body(block_id, picker["action_id"], typed,
                                                                   **self._who(user)))
        assert found.status == 200
        return [str(o["value"]) for o in found.json()["options"]]

    async def choose(self, reply: Reply, value: str, *, user: Person = ADMIN) -> Reply:
        block_id, picker = self._picker(reply)
        chosen = {"type": picker["type"], "block_id": block_id,
                  "selected_option": {"text": {"type": "plain_text", "text": value}, "value": value}}
        hook = f"act-{uuid.uuid4().hex[:8]}"
        self.harness.emulator.bind_hook(hook, message=reply.raw)
        answer = self.harness.interact(self.harness.action_body(picker["action_id"], hook=hook, extra=chosen,
                                                                **self._who(user)))
        assert (answer.status, answer.body) == (200, "")
        first = self._reply(answer.hook)
        if WORKING not in first.text:
            return first
        assert first.replaced, "a slow action's placeholder takes the picker's place"
        found = self._as_reply(self.harness.reply(hook_answer(answer.hook), 2), answer.hook)
        found.waited = True
        return found

    async def press(self, reply: Reply, button: Button, *, user: Person = ADMIN) -> Reply:
        hook = self._hook(reply)
        return self._clicked(hook, self._action(reply, button.id, button.value, hook, user))

    async def pick(self, reply: Reply, values: Sequence[str], *, user: Person = ADMIN) -> Reply:
        picker = reply.select().raw
        options = {o["value"]: o for o in picker.get("options") or []}
        action: dict[str, Any] = {"type": picker["type"], "action_id": picker["action_id"], "block_id": "Sl4ck",
                                  "action_ts": sh.slack_stamp()}
        if picker["type"].startswith("multi_"):
            action["selected_options"] = [options[value] for value in values]  # Slack sends every chosen option
        else:
            [value] = values
            action["selected_option"] = options[value]
        if "placeholder" in picker:
            action["placeholder"] = picker["placeholder"]
        hook = self._hook(reply)
        body = self._action(reply, picker["action_id"], "", hook, user)
        body["actions"] = [action]
        return self._clicked(hook, body)

    async def search(self, reply: Reply, text: str, *, shows: str = "", label: str = "",
                     user: Person = ADMIN) -> Reply:
        [box] = [b for b in reply.raw.get("blocks") or [] if b["type"] == "input" and b.get("dispatch_action")
                 and (not label or b["label"]["text"] == label)]
        element = box["element"]
        assert element["type"] == "plain_text_input" and element.get("initial_value", "") == shows
        hook = self._hook(reply)
        body = self.harness.search_body(element["action_id"], text, hook=hook, **self._who(user))
        return self._clicked(hook, self._in_channel(reply, body))  # Enter pressed: a block action

    async def double_click(self, reply: Reply, label: str, *, user: Person = ADMIN) -> list[Reply]:
        button = reply.button(label)
        stamps = [sh.slack_stamp(), sh.slack_stamp()]  # a microsecond apart: two clicks, not one delivered twice
        assert stamps[0] != stamps[1], "two clicks have two action_ts: the same one is a repeated delivery"
        hooks = [self._hook(reply) for _ in stamps]
        bodies = [self._action(reply, button.id, button.value, hook, user, action_ts=stamp)
                  for hook, stamp in zip(hooks, stamps, strict=True)]
        with ThreadPoolExecutor(2) as pool:  # two deliveries at once
            answers = list(pool.map(self.harness.interact, bodies))
        assert [(a.status, a.body) for a in answers] == [(200, "")] * 2
        found = [self._answer(a.hook) for a in answers]
        retry = self._action(reply, button.id, button.value, self._hook(reply), user, action_ts=stamps[0])
        again = self.harness.interact(retry, headers={"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"})
        assert again.status == 200
        self.harness.settle()
        assert self.harness.emulator.calls(again.hook) == [], "Slack's retry of a click is dropped"
        return found

    def clicked_now(self, answer: Reply) -> Reply:
        posted = self.harness.emulator.hook(str(answer.clicked)).posted
        assert posted, "the clicked message is gone"
        return self._as_reply(posted[0], str(answer.clicked))

    async def send(self, words: str, args: Mapping[str, Any] | None = None, *, user: Person = ADMIN) -> Sent:
        answer = self.harness.command(self._text(words, args or {}), **self._who(user))
        assert (answer.status, answer.body) == (200, ""), "a slash command is acked empty at once"
        return Sent({}, answer.hook)

    async def send_click(self, reply: Reply, label: str, *, user: Person = ADMIN) -> Sent:
        button = reply.button(label)
        hook = self._hook(reply)
        body = self._action(reply, button.id, button.value, hook, user)
        answer = self.harness.interact(body)
        assert (answer.status, answer.body) == (200, "")
        return Sent(body, answer.hook, hook, reply.private)

    async def send_search(self, reply: Reply, text: str, *, label: str = "", user: Person = ADMIN) -> Sent:
        [box] = [b for b in reply.raw.get("blocks") or [] if b["type"] == "input" and b.get("dispatch_action")
                 and (not label or b["label"]["text"] == label)]
        hook = self._hook(reply)
        body = self._in_channel(reply, self.harness.search_body(box["element"]["action_id"], text, hook=hook,
                                                                **self._who(user)))
        answer = self.harness.interact(body)
        assert (answer.status, answer.body) == (200, "")
        return Sent(body, answer.hook, hook, reply.private)

    async def fill(self, form: Form, answers: Mapping[str, str], *, user: Person = ADMIN) -> tuple[Reply, list[str]]:
        before = len(self.harness.emulator.calls("chat.postEphemeral"))
        view, titles = form.raw, []
        while True:  # each step answers ``response_action: update`` with the next; the last closes the modal
            titles.append(str(view["title"]["text"]))
            state = {b["block_id"]: slack_state(b, answers) for b in view["blocks"] if b["type"] == "input"}
            answer = self.harness.interact(self.harness.submission_body(view, state, **self._who(user)))
            assert answer.status == 200
            if not answer.body:
                break
            ack = answer.json()
            assert ack["response_action"] == "update", ack
            view = ack["view"]
        posted = self.harness.emulator.wait_for("chat.postEphemeral", count=before + 1, timeout=10)[-1].body
        assert (posted["channel"], posted["user"]) == (sh.CHANNEL, slack_id(user))
        return self._as_reply(posted, "", private=True), titles

    async def send_form(self, form: Form, values: Mapping[str, str], *, user: Person = ADMIN) -> Sent:
        before = len(self.harness.emulator.calls("chat.postEphemeral"))
        state = {name: sh.typed(value) for name, value in values.items()}
        body = self.harness.submission_body(form.raw, state, **self._who(user))
        answer = self.harness.interact(body)
        assert (answer.status, answer.body) == (200, ""), "an empty ack closes the modal"
        return Sent(body, kind="form", before=before, at=time.monotonic(), user=slack_id(user))

    async def redeliver(self, sent: Sent) -> None:
        assert sent.raw, "Slack retries payloads, not slash commands"
        assert self.harness.interact(sent.raw).status == 200

    async def first(self, sent: Sent) -> Reply:
        if sent.kind == "form":  # the modal closed at once: that is the wait
            return Reply("", [], True, False, {}, None, wait=True, at=sent.at)
        found = self._reply(sent.hook)
        found.wait = WORKING in found.text
        found.clicked = sent.clicked
        return found

    async def answer(self, sent: Sent) -> Reply:
        if sent.kind == "form":  # a closed form's outcome: a private message in the form's channel
            posted = self.harness.emulator.wait_for("chat.postEphemeral", count=sent.before + 1,
                                                    timeout=10)[sent.before]
            assert (posted.body["channel"], posted.body["user"]) == (sh.CHANNEL, sent.user)
            found = self._as_reply(posted.body, "", private=True)
            found.at = posted.at
            return found
        self.harness.settle()
        *_, last = self.harness.emulator.calls(sent.hook)
        found = self._as_reply(last.body, sent.hook)
        found.at, found.clicked = last.at, sent.clicked
        return found

    async def posts(self, sent: Sent) -> int:
        if sent.kind == "form":  # the modal's closing, then the private messages
            return 1 + len(self.harness.emulator.calls("chat.postEphemeral")) - sent.before
        return len(self.harness.emulator.calls(sent.hook))

    def _hook(self, reply: Reply) -> str:
        """A new response_url that belongs to the message of ``reply``."""
        hook = f"act-{uuid.uuid4().hex[:8]}"
        self.harness.emulator.bind_hook(hook, message=reply.raw)
        return hook

    def _action(self, reply: Reply, action_id: str, value: str, hook: str, user: Person,
                **extra: Any) -> dict[str, Any]:
        body = self.harness.action_body(action_id, value, hook=hook, extra=extra or None, **self._who(user))
        return self._in_channel(reply, body)

    def _in_channel(self, reply: Reply, body: dict[str, Any]) -> dict[str, Any]:
        """A click on a message everyone sees: Slack says so and sends the message along."""
        if not reply.private:
            body["container"]["is_ephemeral"] = False
            body["message"] = {"type": "message", "ts": "1700000005.000100", "text": reply.raw.get("text", ""),
                               "blocks": reply.raw.get("blocks") or []}
        return body

    def _clicked(self, hook: str, body: dict[str, Any]) -> Reply:
        answer = self.harness.interact(body)
        assert (answer.status, answer.body) == (200, "")
        found = self._answer(answer.hook)
        if found.replaced:
            assert self.harness.emulator.hook(hook).current == found.raw, "the clicked message was replaced"
        return found

    def _answer(self, hook: str, *, command: bool = False) -> Reply:
        """The answer posted to ``hook``; after a slow handler's placeholder, the post that takes its place."""
        first = self._reply(hook)
        if WORKING not in first.text:
            return first
        assert first.private and first.replaced != command, "a command's placeholder is new, a click's replaces"
        count = 2
        if self._reply(hook, count).raw.get("delete_original"):  # a public outcome follows the private wait
            count += 1
        found = self._reply(hook, count)
        assert found.replaced or not found.private, "the outcome takes the placeholder's place"
        found.waited = True
        return found

    def sent(self) -> str:
        return "\n".join("\n".join((c.path, repr(c.body), repr(c.headers), c.raw.decode("utf-8", "replace")))
                         for c in self.harness.emulator.calls())

    def files(self) -> dict[str, bytes]:
        self.harness.settle()
        calls = self.harness.emulator.calls()
        names = [str(c.body["filename"]) for c in calls if c.path.strip("/") == "files.getUploadURLExternal"]
        uploads = [c.raw for c in calls if c.path.startswith("/upload/")]
        assert len(names) == len(uploads), "every upload URL asked for is used once"
        return dict(zip(names, uploads, strict=True))

    def direct_messages(self, person: Person) -> list[Reply]:
        return [self._as_reply(m, "", private=False) for m in self.harness.emulator.messages(slack_id(person))]

    @contextmanager
    def worker(self, clock: Callable[[], datetime]) -> Iterator[Worker]:
        yield Worker(self.harness.runtime, messengers(self.harness.runtime), clock=clock)

    async def restart(self) -> None:
        """Nothing to do: the Bolt app keeps nothing between requests (state lives in the database)."""

    def identity(self, person: Person) -> IdentityKey:
        return IdentityKey("slack", sh.TEAM, slack_id(person))

    def bind_thread(self, session: Session, kind: str, subject: str) -> None:
        bind_thread(session, ConversationRef("slack", sh.TEAM, sh.CHANNEL, thread=sh.THREAD), kind, subject)

    def say(self, text: str, *, user: Person = ADMIN, where: str = "thread", from_bot: bool = False,
            mention_bot: bool = False) -> None:
        thread = {"thread": sh.THREAD, "other": SLACK_OTHER_THREAD, "channel": ""}[where]
        extra = {"bot_id": "B9"} if from_bot else {}
        said = f"<@{self.harness.emulator.bot_user_id}> {text}" if mention_bot else text
        answer = self.harness.event(self.harness.event_body(said, user=slack_id(user), thread=thread, **extra))
        assert answer.status == 200

    async def thread_replies(self, count: int, timeout: float = 5.0) -> list[str]:
        deadline = time.monotonic() + timeout
        while True:
            found = [m for m in self.harness.emulator.messages(sh.CHANNEL) if m.get("thread_ts") == sh.THREAD]
            if len(found) >= count or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.02)
        assert len(found) >= count, f"{len(found)} message(s) in the thread, expected {count}"
        return [plain(sh.texts(m)) for m in found]

    async def posted_nothing(self) -> None:
        self.harness.settle()
        assert self.harness.emulator.calls("chat.postMessage") == [] and self.harness.emulator.messages() == []

    def settle(self) -> None:
        self.harness.settle()

    def check(self) -> None:
        self.harness.emulator.check()

    def _reply(self, hook: str, count: int = 1) -> Reply:
        call = self.harness.emulator.wait_for(hook, count, timeout=10)[count - 1]
        found = self._as_reply(call.body, hook)
        found.at = call.at
        return found

    def _as_reply(self, body: dict[str, Any], hook: str, *, private: bool | None = None) -> Reply:
        buttons = slack_buttons(body.get("blocks") or [])
        if private is None:
            private = body.get("response_type", "ephemeral") == "ephemeral"
        return Reply(plain(sh.texts(body)), buttons, private, bool(body.get("replace_original")), body, hook,
                     cards=slack_cards(body), selects=slack_selects(body), marked=sh.texts(body), parts=[body],
                     clicked=hook)


def slack_state(block: Mapping[str, Any], answers: Mapping[str, str]) -> dict[str, Any]:
    """What Slack sends for an input block: the answer when given, else what the element shows already."""
    element, name = block["element"], block["block_id"]
    kind = element["type"]
    if kind == "static_select":
        chosen = next((o for o in element["options"] if o["value"] == answers.get(name)),
                      element.get("initial_option"))
        return {"type": kind, "selected_option": chosen}
    if kind == "checkboxes":
        return {"type": kind, "selected_options": element.get("initial_options", [])}
    return {"type": kind, "value": answers.get(name, element.get("initial_value"))}


def slack_buttons(blocks: Sequence[Mapping[str, Any]]) -> list[Button]:
    """The buttons of the actions blocks among ``blocks``."""
    return [Button(str(e["text"]["text"]), str(e["action_id"]), str(e.get("value", "")),
                   key=f"{decode_action_id(str(e['action_id']))[0]}:{e.get('value', '')}",
                   style=str(e.get("style", "default")), action=decode_action_id(str(e["action_id"]))[0])
            for block in blocks if block.get("type") == "actions"
            for e in block.get("elements") or [] if e.get("type") == "button"]


def slack_cards(message: Mapping[str, Any]) -> list[Card]:
    """The cards of a message: a header, then its text, fields and buttons, up to the next divider."""
    cards: list[Card] = []
    current: Card | None = None
    for block in message.get("blocks") or []:
        if block["type"] == "header":
            current = Card(plain(block["text"]["text"]), "", {}, [])
            cards.append(current)
        elif block["type"] == "divider" or current is None:
            current = None
        elif block["type"] == "section" and block.get("fields"):
            for cell in block["fields"]:
                label, _, value = str(cell["text"]).partition("\n")
                current.fields[plain(label)] = plain(value)
        elif block["type"] == "section":
            current.text = "\n".join(t for t in (current.text, plain(block["text"]["text"])) if t)
        elif block["type"] == "actions":
            current.buttons += slack_buttons([block])
    return cards


def slack_selects(message: Mapping[str, Any]) -> list[Choice]:
    """The select menus of a message's actions blocks, with the options shown chosen."""
    found = []
    for element in elements(message):
        if str(element.get("type", "")).endswith("_select"):
            initial = element.get("initial_options") or ([element["initial_option"]] if "initial_option" in element
                                                         else [])
            found.append(Choice([str(o["value"]) for o in element.get("options") or []],
                                [str(o["value"]) for o in initial], element["type"].startswith("multi_"), element))
    return found


def elements(message: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The elements of every actions block of a Slack message."""
    return [e for b in message.get("blocks") or [] if b.get("type") == "actions" for e in b.get("elements") or []]


def hook_answer(hook: str) -> sh.Answer:
    return sh.Answer(200, "", hook)


# -- Discord ------------------------------------------------------------------------------------------------

def discord_id(person: Person) -> str:
    if person == ADMIN:
        return dh.ADMIN_ID
    return f"91{zlib.crc32(person.name.encode()):016d}"


class DiscordDoor:
    """The real discord.py client, fed INTERACTION_CREATE payloads; every call validated against the spec."""

    platform = "discord"

    def __init__(self, harness: dh.Harness) -> None:
        self.harness = harness
        self.seen = 0
        self._before: dict[str, set[asyncio.Task[Any]]] = {}

    def mention(self, person: Person) -> str:
        return f"<@{discord_id(person)}>"

    async def command(self, words: str, args: Mapping[str, Any] | None = None, *,
                      user: Person = ADMIN) -> Reply:
        options: dict[str, Any] = {}
        types: dict[str, int] = {}
        resolved: list[dict[str, Any]] = []
        for name, value in (args or {}).items():
            if isinstance(value, Person):
                options[name], types[name] = discord_id(value), dh.USER_OPTION
                resolved.append(obj.user(discord_id(value), value.name))
            else:
                options[name] = value
                if isinstance(value, int):
                    types[name] = dh.INTEGER_OPTION
        sent = self._feed(self.harness.slash, discord_words(self.harness.runtime.registry, words), options,
                          user_id=discord_id(user), types=types, resolved=resolved)
        return await self._reply(sent, None)

    async def click(self, reply: Reply, label: str, *, user: Person = ADMIN) -> Reply:
        return await self.press(reply, reply.button(label), user=user)

    async def click_stale(self, button_id: str, *, user: Person = ADMIN) -> Reply:
        old = obj.message(obj.snowflake(), dh.CHANNEL_ID, obj.user("1", "bot"), content="old", components=[
            {"type": 1, "components": [{"type": 2, "style": 1, "label": "Old", "custom_id": button_id}]}])
        sent = self._feed(self.harness.click, old, button_id, user_id=discord_id(user))
        return await self._reply(sent, old)

    async def click_danger(self, reply: Reply, *, user: Person = ADMIN) -> Reply:
        data = reply.raw.get("data", reply.raw)
        [danger] = [c for c in dh.components_of(data) if c.get("style") == 4]
        asked = await self.click(reply, str(danger["label"]), user=user)
        assert "Are you sure?" in asked.text and asked.private, "Discord asks in a private message first"
        return await self.click(asked, "Confirm", user=user)

    async def open_form(self, words: str, args: Mapping[str, Any] | None = None, *,
                        user: Person = ADMIN) -> Form:
        self.harness.slash(words, dict(args or {}), user_id=discord_id(user))
        return await self._form()

    async def click_form(self, reply: Reply, label: str, *, user: Person = ADMIN) -> Form:
        assert reply.source is not None
        self.harness.click(reply.source, reply.button(label).id, user_id=discord_id(user))
        return await self._form()

    async def _form(self) -> Form:
        self.seen += 1
        modal: dict[str, Any] = (await self.harness.callbacks(self.seen, timeout=10))[self.seen - 1].json
        assert modal["type"] == 9, modal
        validate_schema(modal, "ModalInteractionCallbackRequest")
        inputs = {str(c["custom_id"]): c for c in dh.components_of(modal) if c.get("custom_id")}
        return Form(str(modal["data"]["custom_id"]), inputs, modal)

    async def submit(self, form: Form, values: Mapping[str, str], *, user: Person = ADMIN) -> Reply:
        sent = self.harness.submit(form.id, dict(values), user_id=discord_id(user))
        self.seen += 1
        deferral = (await self.harness.callbacks(self.seen, timeout=10))[self.seen - 1].json
        assert deferral == {"type": 5, "data": {"flags": EPHEMERAL}}, "a slow form is deferred, privately"
        [edit] = await self.harness.original_edits(sent, timeout=10)
        return self._as_reply(edit.json, edit.message, private=True, replaced=False)

    def _select(self, reply: Reply) -> dict[str, Any]:
        data = reply.raw.get("data", reply.raw)
        [found] = [c for c in dh.components_of(data) if c["type"] == 3]
        return found

    async def suggest(self, reply: Reply, typed: str, *, user: Person = ADMIN) -> list[str]:
        self.harness.autocomplete("connect", {"target": "repo", "repository": typed}, "repository",
                                  user_id=discord_id(user))
        self.seen += 1
        found = (await self.harness.callbacks(self.seen, timeout=10))[self.seen - 1].json
        assert found["type"] == 8
        return [str(c["value"]) for c in found["data"]["choices"]]

    async def choose(self, reply: Reply, value: str, *, user: Person = ADMIN) -> Reply:
        select = self._select(reply)
        if value in [o["value"] for o in select["options"]]:
            assert reply.source is not None
            sent = self._feed(self.harness.click, reply.source, str(select["custom_id"]), component_type=3,
                              values=[value], user_id=discord_id(user))
            return await self._reply(sent, reply.source, was_private=reply.private)
        assert len(select["options"]) == 25, "a value outside the select is typed in the command"
        sent = self._feed(self.harness.slash, "connect", {"target": "repo", "repository": value},
                          user_id=discord_id(user))
        return await self._reply(sent, None)

    async def press(self, reply: Reply, button: Button, *, user: Person = ADMIN) -> Reply:
        message = button.source if button.source is not None else reply.source
        assert message is not None, "the reply has no message to click in"
        sent = self._feed(self.harness.click, message, button.id, user_id=discord_id(user))
        return await self._reply(sent, message, was_private=reply.private)

    async def pick(self, reply: Reply, values: Sequence[str], *, user: Person = ADMIN) -> Reply:
        choice = reply.select()
        message = choice.source if choice.source is not None else reply.source
        sent = self._feed(self.harness.click, message, str(choice.raw["custom_id"]), component_type=3,
                          values=list(values), user_id=discord_id(user))  # Discord sends the chosen values
        return await self._reply(sent, message, was_private=reply.private)

    async def search(self, reply: Reply, text: str, *, shows: str = "", label: str = "",
                     user: Person = ADMIN) -> Reply:
        [button] = [b for b in reply.buttons if b.id.startswith("radq|") and (not label or b.label == label)]
        message = button.source if button.source is not None else reply.source
        opened = self._feed(self.harness.click, message, button.id, user_id=discord_id(user))
        self.seen += 1
        modal = (await self._callback(opened)).json
        await self._quiet(opened)
        assert modal["type"] == 9, "a search button opens a modal"
        validate_schema(modal, "ModalInteractionCallbackRequest")
        [box] = dh.components_of(modal)
        assert box["custom_id"] == "query" and box.get("value", "") == shows
        sent = self._feed(self.harness.submit, modal["data"]["custom_id"], {"query": text}, user_id=discord_id(user),
                          message=message)
        return await self._reply(sent, message, was_private=reply.private)

    async def double_click(self, reply: Reply, label: str, *, user: Person = ADMIN) -> list[Reply]:
        button = reply.button(label)
        message = button.source if button.source is not None else reply.source
        first = self._feed(self.harness.click, message, button.id, user_id=discord_id(user))
        second = self._feed(self.harness.click, message, button.id, user_id=discord_id(user))
        self.harness.feed(first)  # and the first one delivered twice
        found = [await self._reply(sent, message, was_private=reply.private) for sent in (first, second)]
        await asyncio.sleep(0.2)
        assert len(self.harness.emulator.find("POST", callback_path(first))) == 1, "the re-delivery is dropped"
        return found

    def clicked_now(self, answer: Reply) -> Reply:
        assert answer.clicked is not None, "the answer was not to a click"
        message = self.harness.emulator.messages[str(answer.clicked["id"])]
        return self._as_reply(message, message, private=bool(int(message.get("flags") or 0) & EPHEMERAL),
                              replaced=False)

    async def send(self, words: str, args: Mapping[str, Any] | None = None, *, user: Person = ADMIN) -> Sent:
        return Sent(self._feed(self.harness.slash, discord_words(self.harness.runtime.registry, words),
                               dict(args or {}), user_id=discord_id(user)))

    async def send_click(self, reply: Reply, label: str, *, user: Person = ADMIN) -> Sent:
        button = reply.button(label)
        message = button.source if button.source is not None else reply.source
        return Sent(self._feed(self.harness.click, message, button.id, user_id=discord_id(user)),
                    clicked=message, private=reply.private)

    async def send_click_as_it_was(self, reply: Reply, label: str, *, user: Person = ADMIN) -> Sent:
        """A click on ``label`` in ``reply``'s message as it was first posted (before the bot edited it)."""
        button = reply.button(label)
        message = button.source if button.source is not None else reply.source
        assert message is not None, "the reply has no message to click in"
        sent = self._feed(self.harness.click_as_it_was, str(message["id"]), button.id, user_id=discord_id(user))
        return Sent(sent, clicked=self.harness.emulator.earlier[str(message["id"])][0], private=reply.private)

    async def send_search(self, reply: Reply, text: str, *, label: str = "", user: Person = ADMIN) -> Sent:
        [button] = [b for b in reply.buttons if b.id.startswith("radq|") and (not label or b.label == label)]
        message = button.source if button.source is not None else reply.source
        opened = self._feed(self.harness.click, message, button.id, user_id=discord_id(user))
        self.seen += 1
        modal = (await self._callback(opened)).json
        await self._quiet(opened)
        assert modal["type"] == 9, "a search button opens a modal"
        sent = self._feed(self.harness.submit, modal["data"]["custom_id"], {"query": text}, user_id=discord_id(user),
                          message=message)
        return Sent(sent, clicked=message, private=reply.private)

    async def fill(self, form: Form, answers: Mapping[str, str], *, user: Person = ADMIN) -> tuple[Reply, list[str]]:
        titles = []
        while True:  # a modal cannot open another: each step's answer carries a button opening the next
            titles.append(str(form.raw["data"]["title"]))
            values: dict[str, str | list[str] | bool] = {}
            for component in dh.components_of(form.raw):
                name = str(component.get("custom_id", ""))
                if component["type"] == 4:
                    values[name] = answers.get(name, component.get("value", ""))
                elif component["type"] == 3:
                    given = answers.get(name)
                    values[name] = [given] if given else [o["value"] for o in component["options"]
                                                          if o.get("default")]
            sent = self._feed(self.harness.submit, form.id, values, user_id=discord_id(user))
            reply = await self._reply(sent, None)
            following = [b for b in reply.buttons if b.id.startswith("radn|")]
            if not following:
                return reply, titles
            opened = self._feed(self.harness.click, reply.source, following[0].id, user_id=discord_id(user))
            self.seen += 1
            modal: dict[str, Any] = (await self._callback(opened)).json
            await self._quiet(opened)
            assert modal["type"] == 9, modal
            validate_schema(modal, "ModalInteractionCallbackRequest")
            form = Form(str(modal["data"]["custom_id"]),
                        {str(c["custom_id"]): c for c in dh.components_of(modal) if c.get("custom_id")}, modal)

    async def send_form(self, form: Form, values: Mapping[str, str], *, user: Person = ADMIN) -> Sent:
        return Sent(self._feed(self.harness.submit, form.id, dict(values), user_id=discord_id(user)), kind="form",
                    user=discord_id(user))

    async def redeliver(self, sent: Sent) -> None:
        self.harness.feed(sent.raw)

    async def first(self, sent: Sent) -> Reply:
        self.seen += 1
        call = await self._callback(sent.raw)
        body: dict[str, Any] = call.json
        if body["type"] in (5, 6):
            assert body == ({"type": 5, "data": {"flags": EPHEMERAL}} if body["type"] == 5 else {"type": 6}), \
                "a command is deferred privately, a click as an update of its message"
            found = Reply("", [], body["type"] == 5 or sent.private, body["type"] == 6, body, sent.clicked,
                          wait=True, at=call.at, clicked=sent.clicked)
            return found
        flags = int((body.get("data") or {}).get("flags") or 0)
        found = self._as_reply(body, call.message if call.message is not None else sent.clicked,
                               private=bool(flags & EPHEMERAL) or (body["type"] == 7 and sent.private),
                               replaced=body["type"] == 7, data=body.get("data") or {})
        found.at, found.clicked = call.at, sent.clicked
        return found

    async def answer(self, sent: Sent) -> Reply:
        """The edit of the deferred response (in the wait's place), or the last follow-up message."""
        await self._quiet(sent.raw)
        token = re.escape(str(sent.raw["token"]))
        follow_ups = self.harness.emulator.find("POST", rf"/webhooks/\d+/{token}")
        edits = self.harness.emulator.find("PATCH", rf"/webhooks/\d+/{token}/messages/@original")
        if follow_ups:
            last, replaced = follow_ups[-1], False
            data, message = last.json, last.response
        else:
            assert edits, "the deferred interaction was never answered"
            last, replaced = edits[-1], True
            data, message = last.json, last.message if last.message is not None else sent.clicked
        validate_call(last)
        private = bool(int(data.get("flags") or 0) & EPHEMERAL) if follow_ups else sent.private or \
            bool(int((message or {}).get("flags") or 0) & EPHEMERAL)
        found = self._as_reply(data, message, private=private, replaced=replaced)
        found.at, found.clicked = last.at, sent.clicked
        return found

    async def posts(self, sent: Sent) -> int:
        token = re.escape(str(sent.raw["token"]))
        return len(self.harness.emulator.find("POST", callback_path(sent.raw))) + len(
            self.harness.emulator.find(None, rf"/webhooks/\d+/{token}(/messages/@original)?"))

    def _feed(self, send: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        """Feed an interaction, noting the tasks that existed before (those it starts are the rest)."""
        before = set(asyncio.all_tasks())
        payload: dict[str, Any] = send(*args, **kwargs)
        self._before[str(payload["id"])] = before
        return payload

    async def _quiet(self, sent: Mapping[str, Any], timeout: float = 10.0) -> None:
        """Wait until the tasks started since ``sent`` was fed (follow-ups included) have finished."""
        before = self._before.pop(str(sent["id"]), None)
        if before is None:
            return
        me = asyncio.current_task()
        deadline = time.monotonic() + timeout
        while busy := [t for t in asyncio.all_tasks() if t not in before and t is not me and not t.done()
                       and not serving(t)]:
            assert time.monotonic() < deadline, f"the bot is still busy with {busy}"
            await asyncio.wait(busy, timeout=deadline - time.monotonic())

    async def _callback(self, sent: Mapping[str, Any]) -> Any:
        """The callback answering interaction ``sent`` (each gets exactly one), validated."""
        [call] = await self.harness.emulator.wait_for("POST", callback_path(sent), timeout=10)
        validate_call(call)
        return call

    def sent(self) -> str:
        return "\n".join(f"{c.method} {c.path} {c.query!r} {c.json!r} {c.files!r} {c.headers!r}"
                         for c in self.harness.emulator.calls)

    def files(self) -> dict[str, bytes]:
        return {f.filename: f.content for c in self.harness.emulator.calls for f in c.files}

    def direct_messages(self, person: Person) -> list[Reply]:
        channel = self.harness.emulator.dm_channel_id(discord_id(person))
        return [self._as_reply(c.json, c.message, private=False, replaced=False)  # its buttons can be clicked
                for c in self.harness.emulator.find("POST", rf"/channels/{channel}/messages")]

    @contextmanager
    def worker(self, clock: Callable[[], datetime]) -> Iterator[Worker]:
        found = messengers(self.harness.runtime)
        try:
            yield Worker(self.harness.runtime, found, clock=clock)
        finally:
            for messenger in found.values():
                close = getattr(messenger, "close", None)  # the Discord messenger runs a loop of its own
                if callable(close):
                    close()

    async def restart(self) -> None:
        await self.harness.restart()

    def identity(self, person: Person) -> IdentityKey:
        return IdentityKey("discord", "", discord_id(person))

    def bind_thread(self, session: Session, kind: str, subject: str) -> None:
        bind_thread(session, ConversationRef("discord", dh.GUILD_ID, dh.CHANNEL_ID, DISCORD_THREAD), kind, subject)
        self.harness.guild(threads=[obj.thread_channel(DISCORD_THREAD, dh.CHANNEL_ID, dh.GUILD_ID),
                                    obj.thread_channel(DISCORD_OTHER_THREAD, dh.CHANNEL_ID, dh.GUILD_ID)])

    def say(self, text: str, *, user: Person = ADMIN, where: str = "thread", from_bot: bool = False,
            mention_bot: bool = False) -> None:
        channel = {"thread": DISCORD_THREAD, "other": DISCORD_OTHER_THREAD, "channel": dh.CHANNEL_ID}[where]
        said = f"<@{self.harness.emulator.bot_user['id']}> {text}" if mention_bot else text
        self.harness.message(channel, said, user_id=discord_id(user), bot=from_bot)

    async def thread_replies(self, count: int, timeout: float = 5.0) -> list[str]:
        posts = await self.harness.emulator.wait_for("POST", rf"/channels/{DISCORD_THREAD}/messages", count=count,
                                                     timeout=timeout)
        for post in posts:
            validate_call(post)
        return [plain(discord_text(p.json)) for p in posts]

    async def posted_nothing(self) -> None:
        await asyncio.sleep(0.3)
        assert self.harness.emulator.find("POST", r"/channels/\d+/messages") == []

    def settle(self) -> None:
        """Nothing to wait for: each reply was awaited."""

    def check(self) -> None:
        self.harness.validate_all()

    async def _reply(self, sent: dict[str, Any], clicked: dict[str, Any] | None, *,
                     was_private: bool = False) -> Reply:
        """The answer to ``sent``: its callback (or the edit after a deferral) and every follow-up message."""
        self.seen += 1
        call = await self._callback(sent)
        body: dict[str, Any] = call.json
        flags = int((body.get("data") or {}).get("flags") or 0)
        waited = body["type"] in (5, 6)
        if waited:  # deferred: the answer is an edit of the original response
            assert body == ({"type": 5, "data": {"flags": EPHEMERAL}} if body["type"] == 5 else {"type": 6}), \
                "a command is deferred privately, a click as an update of its message"
            [*_, edit] = await self.harness.original_edits(sent, timeout=10)
            data: dict[str, Any] = edit.json
            message = edit.message if edit.message is not None else clicked
            replaced, at = body["type"] == 6, edit.at
            if body["type"] == 5 and edit.message is not None:
                assert int(edit.message.get("flags") or 0) & EPHEMERAL, "the answer stays as private as its wait"
        else:
            data = body.get("data") or {}
            message = call.message if call.message is not None else clicked
            replaced, at = body["type"] == 7, call.at
        private = bool(flags & EPHEMERAL) or (replaced and was_private)  # an update keeps the message's flags
        await self._quiet(sent)
        follow_ups = self.harness.emulator.find("POST", rf"/webhooks/\d+/{re.escape(str(sent['token']))}")
        for follow_up in follow_ups:
            validate_call(follow_up)
            assert waited or bool(int(follow_up.json.get("flags") or 0) & EPHEMERAL) == private, \
                "the rest of an answer is as private as its start"
        found = self._as_reply(body, message, private=private, replaced=replaced, data=data,
                               more=[f.response for f in follow_ups])
        found.waited, found.at, found.clicked = waited, at, clicked
        return found

    def _as_reply(self, body: dict[str, Any], message: dict[str, Any] | None, *, private: bool, replaced: bool,
                  data: dict[str, Any] | None = None, more: Sequence[dict[str, Any]] = ()) -> Reply:
        shown = body if data is None else data
        parts = [(shown, message), *((m, m) for m in more)]  # what each message shows, and the message to click
        return Reply("\n".join(plain(discord_text(p)) for p, _ in parts),
                     [b for p, m in parts for b in discord_buttons(p, m)], private, replaced, body, message,
                     cards=[c for p, m in parts for c in discord_cards(p, m)],
                     selects=[c for p, m in parts for c in discord_selects(p, m)],
                     marked="\n".join(discord_text(p) for p, _ in parts), parts=[p for p, _ in parts])


def serving(task: asyncio.Task[Any]) -> bool:
    """Whether ``task`` is the emulator's server holding a kept-alive connection open (it never ends by itself)."""
    return getattr(task.get_coro(), "__qualname__", "").startswith("RequestHandler.")


def callback_path(sent: Mapping[str, Any]) -> str:
    """The path of the callback answering interaction ``sent``."""
    return rf"/interactions/{sent['id']}/{re.escape(str(sent['token']))}/callback"


def discord_buttons(data: Mapping[str, Any], message: dict[str, Any] | None) -> list[Button]:
    """The buttons of a message body; a click on one is sent with ``message``."""
    return [Button(str(c.get("label", "")), str(c["custom_id"]), key=str(c["custom_id"]),
                   style={1: "primary", 4: "danger"}.get(int(c.get("style") or 2), "default"),
                   action=str(c["custom_id"]).split("|")[1] if "|" in str(c["custom_id"]) else "", source=message)
            for c in dh.components_of(dict(data)) if c.get("type") == 2 and c.get("custom_id")]


def discord_cards(data: Mapping[str, Any], message: dict[str, Any] | None) -> list[Card]:
    """The embeds of a message body as cards; the last one shows the message's buttons."""
    embeds = data.get("embeds") or []
    return [Card(plain(str(e.get("title") or "")), plain(str(e.get("description") or "")),
                 {plain(str(f["name"])): plain(str(f["value"])) for f in e.get("fields") or []},
                 discord_buttons(data, message) if n == len(embeds) - 1 else [])
            for n, e in enumerate(embeds)]


def discord_selects(data: Mapping[str, Any], message: dict[str, Any] | None) -> list[Choice]:
    """The select menus of a message body, with the options shown chosen (``default``)."""
    return [Choice([str(o["value"]) for o in c.get("options") or []],
                   [str(o["value"]) for o in c.get("options") or [] if o.get("default")],
                   int(c.get("max_values") or 1) > 1, c, message)
            for c in dh.components_of(dict(data)) if c.get("type") == 3]


def discord_words(registry: Registry, words: str) -> str:
    """The words of a command on Discord: a one-word command heading a group is that group's ``show``."""
    if " " not in words and any(name.startswith(words + " ") for name in registry.commands):
        return f"{words} {BARE_NAME}"
    return words


def discord_text(data: Mapping[str, Any]) -> str:
    """All visible text of a message body: content and every embed's text."""
    found = [str(data.get("content") or "")]
    for embed in data.get("embeds") or []:
        found += [str(embed.get("title") or ""), str(embed.get("description") or "")]
        found += [f"{f.get('name', '')}: {f.get('value', '')}" for f in embed.get("fields") or []]
        found.append(str((embed.get("footer") or {}).get("text") or ""))
    return "\n".join(found)


# -- the fixture ------------------------------------------------------------------------------------------

@pytest.fixture
def door_registry() -> Registry | None:
    """The registry the doors run on; None is the real one. A test module overrides it to add handlers."""
    return None


@pytest.fixture
def discord_options() -> dict[str, Any]:
    """Options of the Discord client the door runs (e.g. ``defer_after``); a test module may override it."""
    return {}


@pytest.fixture(params=["slack", "discord"])
async def door(request: pytest.FixtureRequest, db: Database, config: Config,
               door_registry: Registry | None) -> AsyncIterator[FrontDoor]:
    """Each front door in turn; what the bot sent is checked against the platform's rules at the end.

    A test module using it imports ``door_registry`` with it, and ``emulator``, ``harness`` and
    ``slack_runtime`` from ``slack_support``.
    """
    if request.param == "slack":
        if door_registry is None:
            slack = SlackDoor(request.getfixturevalue("harness"))
            yield slack
            slack.check()
            return
        emulator = request.getfixturevalue("emulator")
        runtime = sh.runtime_with(door_registry, db, sh.slack_config(config, emulator))
        with sh.running_harness(runtime, emulator) as running:
            slack = SlackDoor(running)
            yield slack
            slack.check()
        return
    try:  # a test module may define ``discord_options`` for the client (e.g. ``defer_after``)
        options: dict[str, Any] = request.getfixturevalue("discord_options")
    except pytest.FixtureLookupError:
        options = {}
    async with dh.running_bot(db, config, registry=door_registry, **options) as bot:
        discord = DiscordDoor(bot)
        yield discord
        discord.check()
