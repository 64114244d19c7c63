"""Slack test harness: the emulator, the real Bolt app behind the real HTTP server, signed requests.

The app acks by queueing a job; the harness's job runner claims those jobs (by id, so it never takes another
kind's) and runs them with the worker's own ``SlackWork``, several at once, as worker processes would.

Test modules import the fixtures they use from here (``from tests.support.slack_support import harness``).
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

import pytest
from slack_bolt import App, BoltRequest, BoltResponse
from slack_sdk.signature import SignatureVerifier
from sqlalchemy import func, or_, select

from bot.runtime import Runtime
from bot.slack.app import build_app, make_client
from bot.slack.queued import KINDS, SlackWork
from bot.web import BackgroundServer, start_background
from commands.framework.dispatch import Dispatcher
from commands.framework.registry import Registry
from core.config import Config
from core.jobs import queue as jobs
from storage.db import Database
from storage.models import Job, JobStatus, utcnow
from tests.emulators.slack import SlackEmulator

SECRET = "test-signing-secret"
TEAM = "T1"
ADMIN = "UADMIN"
CHANNEL = "C1"
THREAD = "1700000000.000100"

_last_stamp = [0]
_stamp_lock = threading.Lock()


def slack_stamp() -> str:
    """A Slack timestamp (``seconds.micros``, as ``action_ts`` or ``ts``): now, and never one given before.

    Built from whole microseconds: two clicks a microsecond apart get two stamps (``f"{t + 1e-6:.6f}"`` can
    round to the same string as ``t``, and the app rightly drops the second as a repeat of the first).
    """
    with _stamp_lock:
        micros = _last_stamp[0] = max(time.time_ns() // 1000, _last_stamp[0] + 1)
    return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"


class TrackingExecutor(ThreadPoolExecutor):
    """A thread pool that can wait until every task submitted so far has finished."""

    def __init__(self) -> None:
        super().__init__(max_workers=8, thread_name_prefix="slack-test")
        self.futures: list[Future[Any]] = []

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Future[Any]:
        future = super().submit(fn, *args, **kwargs)
        self.futures.append(future)
        return future

    def settle(self, timeout: float = 5.0) -> None:
        _, pending = wait(list(self.futures), timeout=timeout)
        assert not pending, f"{len(pending)} Slack listener(s) still running after {timeout}s"


class JobRunner:
    """Runs the Slack jobs the app queues, as the worker would, in ``executor``'s threads.

    It claims them by id (``claim_id``), so a test's own worker still finds every other job where it left it.
    """

    def __init__(self, runtime: Runtime, executor: TrackingExecutor) -> None:
        self.runtime = runtime
        self.executor = executor
        self.work = SlackWork(runtime, make_client(runtime.config))
        self.halt = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="slack-jobs", daemon=True)

    def start(self) -> JobRunner:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.halt.set()
        self.thread.join(5)

    def _loop(self) -> None:
        while not self.halt.is_set():
            try:
                took = self._take()
            except Exception:  # the test's database was reset under it: look again
                took = False
            if not took:
                self.halt.wait(0.01)

    def _take(self) -> bool:
        db, took = self.runtime.db, False
        with db.unit_of_work() as session:
            due = session.scalars(select(Job.id).where(Job.kind.in_(KINDS), Job.status == JobStatus.QUEUED,
                                                       Job.run_after <= utcnow()).order_by(Job.id)).all()
        for job_id in due:
            with db.unit_of_work() as session:
                job = jobs.claim_id(session, job_id, "slack-test-worker", utcnow())
                if job is None:
                    continue
                kind, payload = job.kind, dict(job.payload)
            self.executor.submit(self._run, job_id, kind, payload)
            took = True
        return took

    def _run(self, job_id: int, kind: str, payload: dict[str, Any]) -> None:
        error = ""
        try:
            self.work.run(kind, payload)
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
        with self.runtime.db.unit_of_work() as session:
            job = session.get_one(Job, job_id)
            if error:
                jobs.fail(session, job, error, utcnow())
            else:
                jobs.finish(session, job, utcnow())

    def pending(self) -> int:
        """Slack jobs queued and due, or running (here or in a test's own worker)."""
        with self.runtime.db.unit_of_work() as session:
            return session.scalar(select(func.count(Job.id)).where(
                Job.kind.in_(KINDS), or_(Job.status == JobStatus.RUNNING,
                                         (Job.status == JobStatus.QUEUED) & (Job.run_after <= utcnow())))) or 0

    def settle(self, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while self.pending() and time.monotonic() < deadline:
            time.sleep(0.01)
        self.executor.settle(max(0.1, deadline - time.monotonic()))
        assert not self.pending(), f"Slack jobs still queued or running after {timeout}s"


@dataclass
class Answer:
    """An HTTP answer from the front door, and the response_url the request carried."""

    status: int
    body: str
    hook: str = ""

    def json(self) -> Any:
        return json.loads(self.body)


def copy_registry(base: Registry) -> Registry:
    """A test-local registry holding everything ``base`` has; new handlers do not leak into it."""
    return base.copy()


def slack_config(config: Config, emulator: SlackEmulator) -> Config:
    return replace(config, slack_bot_token="xoxb-test", slack_signing_secret=SECRET, slack_api_url=emulator.url)


@dataclass
class Harness:
    """Drive the front door like Slack does, and read what the bot sent to the emulator."""

    emulator: SlackEmulator
    runtime: Runtime
    app: App
    server: BackgroundServer
    executor: TrackingExecutor
    runner: JobRunner

    # -- raw HTTP -----------------------------------------------------------------------------------

    def post(self, body: str, content_type: str, *, timestamp: int | None = None, signed: bool = True,
             headers: dict[str, str] | None = None, path: str = "/slack/events") -> Answer:
        stamp = str(int(time.time()) if timestamp is None else timestamp)
        sent_headers = {"Content-Type": content_type, "X-Slack-Request-Timestamp": stamp, **(headers or {})}
        if signed:
            signature = SignatureVerifier(SECRET).generate_signature(timestamp=stamp, body=body)
            sent_headers["X-Slack-Signature"] = signature or ""
        request = urllib.request.Request(self.server.url + path, data=body.encode(), headers=sent_headers)
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                return Answer(answer.status, answer.read().decode())
        except urllib.error.HTTPError as error:
            return Answer(error.code, error.read().decode())

    def get(self, path: str) -> Answer:
        try:
            with urllib.request.urlopen(self.server.url + path, timeout=10) as answer:
                return Answer(answer.status, answer.read().decode())
        except urllib.error.HTTPError as error:
            return Answer(error.code, error.read().decode())

    # -- Slack payloads -----------------------------------------------------------------------------

    def command_body(self, text: str, *, user: str = ADMIN, name: str = "admin", channel: str = CHANNEL,
                     hook: str = "") -> dict[str, str]:
        hook = hook or f"cmd-{uuid.uuid4().hex[:8]}"
        return {"token": "legacy", "team_id": TEAM, "team_domain": "rad", "channel_id": channel,
                "channel_name": "general", "user_id": user, "user_name": name, "command": "/rad", "text": text,
                "api_app_id": "A1", "response_url": self.emulator.webhook_url(hook),
                "trigger_id": f"trig.{uuid.uuid4().hex}"}

    def command(self, text: str, **kwargs: Any) -> Answer:
        """A signed ``/rad <text>`` over HTTP."""
        body = self.command_body(text, **kwargs)
        answer = self.post(urllib.parse.urlencode(body), "application/x-www-form-urlencoded")
        answer.hook = "/webhook/" + body["response_url"].rsplit("/", 1)[1]
        return answer

    def action_body(self, action_id: str, value: str = "", *, user: str = ADMIN, name: str = "admin",
                    hook: str = "", extra: dict[str, Any] | None = None) -> dict[str, Any]:
        hook = hook or f"act-{uuid.uuid4().hex[:8]}"
        action = {"type": "button", "action_id": action_id, "block_id": "b1", "value": value,
                  "text": {"type": "plain_text", "text": "Go"}, "action_ts": slack_stamp(),
                  **(extra or {})}
        return {"type": "block_actions", "team": {"id": TEAM, "domain": "rad"},
                "user": {"id": user, "username": name, "name": name, "team_id": TEAM}, "api_app_id": "A1",
                "token": "legacy", "trigger_id": f"trig.{uuid.uuid4().hex}",
                "container": {"type": "message", "message_ts": "1700000005.000100", "channel_id": CHANNEL,
                              "is_ephemeral": True},
                "channel": {"id": CHANNEL, "name": "general"}, "response_url": self.emulator.webhook_url(hook),
                "actions": [action]}

    def search_body(self, action_id: str, typed: str, **kwargs: Any) -> dict[str, Any]:
        """Enter pressed in a search box (an input block that dispatches): the text is the action's value."""
        body = self.action_body(action_id, typed, **kwargs)
        action = {"type": "plain_text_input", "block_id": "Xq1", "action_id": action_id, "value": typed,
                  "action_ts": body["actions"][0]["action_ts"]}
        body["actions"] = [action]
        body["state"] = {"values": {"Xq1": {action_id: {"type": "plain_text_input", "value": typed}}}}
        return body

    def interact(self, payload: dict[str, Any], **kwargs: Any) -> Answer:
        """A signed interactivity request (``payload=<json>``)."""
        body = "payload=" + urllib.parse.quote(json.dumps(payload))
        answer = self.post(body, "application/x-www-form-urlencoded", **kwargs)
        if payload.get("response_url"):
            answer.hook = "/webhook/" + payload["response_url"].rsplit("/", 1)[1]
        return answer

    def click(self, action_id: str, value: str = "", **kwargs: Any) -> Answer:
        return self.interact(self.action_body(action_id, value, **kwargs))

    def submission_body(self, view: dict[str, Any], values: dict[str, Any], *, user: str = ADMIN,
                        name: str = "admin") -> dict[str, Any]:
        """A ``view_submission`` of a view the bot opened, with the user's input (``{input name: state}``)."""
        state = {input_name: {input_name: value} for input_name, value in values.items()}
        submitted = {**view, "id": f"V{uuid.uuid4().hex[:8]}", "hash": f"{time.time():.6f}.abc", "team_id": TEAM,
                     "state": {"values": state}}
        return {"type": "view_submission", "team": {"id": TEAM, "domain": "rad"},
                "user": {"id": user, "username": name, "name": name, "team_id": TEAM}, "api_app_id": "A1",
                "token": "legacy", "trigger_id": f"trig.{uuid.uuid4().hex}", "view": submitted, "response_urls": []}

    def suggestion_body(self, block_id: str, action_id: str, query: str, *, user: str = ADMIN,
                        name: str = "admin") -> dict[str, Any]:
        """A ``block_suggestion``: the user typed ``query`` in an external select of an ephemeral message."""
        return {"type": "block_suggestion", "team": {"id": TEAM, "domain": "rad"},
                "user": {"id": user, "username": name, "name": name, "team_id": TEAM}, "api_app_id": "A1",
                "token": "legacy", "container": {"type": "message", "message_ts": "1700000005.000100",
                                                 "channel_id": CHANNEL, "is_ephemeral": True},
                "channel": {"id": CHANNEL, "name": "general"}, "block_id": block_id, "action_id": action_id,
                "value": query}

    def event_body(self, text: str, *, user: str = "U2", event_id: str = "", thread: str = THREAD,
                   **event: Any) -> dict[str, Any]:
        message = {"type": "message", "channel": CHANNEL, "user": user, "text": text,
                   "ts": slack_stamp(), "thread_ts": thread, "team": TEAM, "channel_type": "channel",
                   **event}
        return {"token": "legacy", "team_id": TEAM, "api_app_id": "A1", "event": message,
                "type": "event_callback", "event_id": event_id or f"Ev{uuid.uuid4().hex[:10]}",
                "event_time": int(time.time())}

    def home_opened_body(self, *, user: str = ADMIN, tab: str = "home", event_id: str = "") -> dict[str, Any]:
        """An ``app_home_opened`` event: ``user`` opened the app's Home (or Messages) tab."""
        opened: dict[str, Any] = {"type": "app_home_opened", "user": user, "channel": "D" + user.lstrip("UW"),
                                  "tab": tab, "event_ts": slack_stamp()}
        home = self.emulator.home(user)
        if home is not None:
            opened["view"] = home
        return {"token": "legacy", "team_id": TEAM, "api_app_id": "A1", "event": opened, "type": "event_callback",
                "event_id": event_id or f"Ev{uuid.uuid4().hex[:10]}", "event_time": int(time.time())}

    def open_home(self, *, user: str = ADMIN, tab: str = "home") -> Answer:
        """``user`` opens the app's Home tab: the signed event through the real Bolt app."""
        return self.event(self.home_opened_body(user=user, tab=tab))

    def home_action_body(self, element: dict[str, Any], *, user: str = ADMIN, name: str = "admin",
                         ) -> dict[str, Any]:
        """A click on ``element`` (a button of ``user``'s published Home): no channel, no ``response_url``."""
        home = self.emulator.home(user)
        assert home is not None, f"{user} has no Home tab published"
        action = {"type": "button", "action_id": element["action_id"], "block_id": "b1",
                  "value": element.get("value", ""), "text": element["text"], "action_ts": slack_stamp()}
        return {"type": "block_actions", "team": {"id": TEAM, "domain": "rad"},
                "user": {"id": user, "username": name, "name": name, "team_id": TEAM}, "api_app_id": "A1",
                "token": "legacy", "trigger_id": f"trig.{uuid.uuid4().hex}",
                "container": {"type": "view", "view_id": home["id"]}, "view": home, "actions": [action]}

    def event(self, body: dict[str, Any], **kwargs: Any) -> Answer:
        return self.post(json.dumps(body), "application/json", **kwargs)

    def socket(self, body: dict[str, Any]) -> BoltResponse:
        """A Socket Mode envelope's payload, exactly as ``SocketModeHandler`` dispatches it."""
        return self.app.dispatch(BoltRequest(body=body, mode="socket_mode"))

    # -- what the bot sent --------------------------------------------------------------------------

    def reply(self, answer: Answer, count: int = 1) -> dict[str, Any]:
        """The (last of ``count``) message(s) posted to the request's response_url."""
        return self.emulator.wait_for(answer.hook, count)[count - 1].body

    def settle(self) -> None:
        """Wait until every request acked so far has been run (its queued job done)."""
        self.runner.settle()


def typed(value: str | None) -> dict[str, Any]:
    """The state of a text input holding ``value``."""
    return {"type": "plain_text_input", "value": value}


def texts(message: dict[str, Any]) -> str:
    """All visible text of a message payload, for assertions."""
    found: list[str] = [str(message.get("text", ""))]

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") in ("mrkdwn", "plain_text"):
                found.append(str(node.get("text", "")))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(message.get("blocks", []))
    return "\n".join(found)


@contextmanager
def running_harness(runtime: Runtime, emulator: SlackEmulator) -> Iterator[Harness]:
    """The real app (built by the production factory) behind the real HTTP server on port 0."""
    executor = TrackingExecutor()
    app = build_app(runtime, client=make_client(runtime.config))
    server = start_background(runtime, app)
    runner = JobRunner(runtime, executor).start()
    try:
        yield Harness(emulator, runtime, app, server, executor, runner)
    finally:
        server.stop()
        runner.stop()
        executor.settle()
        executor.shutdown(wait=True)


def runtime_with(registry: Registry, db: Database, config: Config) -> Runtime:
    return Runtime(config, db, registry, Dispatcher(registry, db, config))


@pytest.fixture
def emulator() -> Iterator[SlackEmulator]:
    """The Slack emulator; the test fails if Slack would have refused any payload the bot sent."""
    with SlackEmulator() as running:
        yield running
        running.check()


@pytest.fixture
def slack_runtime(config: Config, db: Database, dispatcher: Dispatcher, emulator: SlackEmulator) -> Runtime:
    cfg = slack_config(config, emulator)
    return Runtime(cfg, db, dispatcher.registry, dispatcher)


@pytest.fixture
def harness(slack_runtime: Runtime, emulator: SlackEmulator) -> Iterator[Harness]:
    with running_harness(slack_runtime, emulator) as running:
        yield running
