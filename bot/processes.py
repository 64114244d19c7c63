"""The process roles: what ``python -m bot <role>`` starts, and how it stops."""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

from bot.runtime import Runtime, build_runtime
from commands.framework.messenger import Messenger
from core.config import Config
from core.errors import NotConfigured
from core.queue.wake import Waker
from storage.db import Database
from storage.migrate import current_revision, upgrade

log = logging.getLogger(__name__)

NO_CHAT_CREDENTIALS = """No chat platform is configured, so there is nothing to run.
Set, for Slack:   SLACK_BOT_TOKEN and SLACK_APP_TOKEN (Socket Mode)
                  or SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET (HTTP mode, POST /slack/events)
    for Discord:  DISCORD_TOKEN
Or try every command offline in a terminal:  python -m bot console --demo"""


def stop_event() -> threading.Event:
    """An event set by SIGTERM or SIGINT, so every role shuts down cleanly."""
    stop = threading.Event()

    def handle(_signum: int, _frame: object) -> None:
        stop.set()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, handle)
        signal.signal(signal.SIGINT, handle)
    return stop


@contextlib.contextmanager
def interrupts_to_main_thread() -> Iterator[None]:
    """Threads started inside never take SIGINT, so Ctrl-C always reaches the prompt of the main thread.

    The kernel may hand a process's signal to any thread that does not block it; taken by a worker thread,
    Ctrl-C would only set Python's flag while the prompt, blocked reading the terminal, waits for the next key.
    A thread keeps the signal mask it was started with and passes it on to the threads it starts.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def migrate(config: Config) -> int:
    """Upgrade the database to the newest migration and print the revision."""
    db = Database(config.effective_database_url)
    try:
        upgrade(db.engine)
        print(f"Database migrated to revision {current_revision(db.engine)}.")
    finally:
        db.dispose()
    return 0


def rotate_secrets(config: Config) -> int:
    """Re-encrypt every stored secret (Slack installations' tokens too) under the newest key and print how many."""
    from bot.slack.installations import reseal_tokens
    from core import secrets

    runtime = build_runtime(config)
    box = secrets.SecretBox(secrets.load_keys(config.secret_keys, config.data_dir))
    with runtime.db.unit_of_work() as session:
        count = secrets.rotate_all(session, box) + reseal_tokens(session, box)
    print(f"Re-encrypted {count} secret{'s' if count != 1 else ''} under the newest key.")
    return 0


def import_costs(config: Config, path: Path) -> int:
    """Import one billing-export CSV file now, whole or not at all, and print what was imported."""
    from core.costs.imports import import_export
    from core.costs.sources import parse_source
    from core.costs.sources.csv import csv_export

    runtime = build_runtime(config)
    kind, target = parse_source(config.billing_source)
    label = f"csv:{Path(target).expanduser()}" if kind == "csv" else f"csv:{path.expanduser().resolve()}"
    export = csv_export(path)
    try:
        with runtime.db.unit_of_work() as session:
            outcome = import_export(session, label, export)
    except Exception:
        log.warning("cost import failed", extra={"file": str(path)}, exc_info=True)
        raise
    print(outcome.describe())
    return 0


def console(config: Config, identity: str, *, demo: bool, files: Path | None) -> int:
    """The console front door as ``identity`` (on a seeded demo platform with ``demo``), with the workers."""
    from bot import demo as demo_seed
    from bot.console import Console, console_caller

    runtime = build_runtime(config)
    caller = console_caller(identity)
    if demo:
        for line in demo_seed.seed(runtime.db, runtime.dispatcher.services, caller):
            print(f"demo: {line}")
    from bot.console import ConsoleMessenger
    from bot.console_feed import ConsoleFeed
    from bot.deploy_worker import start_deploy_workers
    from bot.scheduler import start_refine_relay
    from bot.terminal import log_to_screen
    from bot.worker import start_workers

    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:  # started as a background job: Ctrl-C must still work
        signal.signal(signal.SIGINT, signal.default_int_handler)
    terminal = Console(runtime.dispatcher, caller, files or config.data_dir / "console-files")
    log_to_screen(terminal.screen)  # warnings from the workers' threads keep the prompt intact too
    stop = threading.Event()
    printed: dict[str, Messenger] = {"console": ConsoleMessenger(terminal)}
    feed = ConsoleFeed(terminal, runtime.db)
    feed.poll()  # how this user's deployments are now: only what changes from here on is printed
    with interrupts_to_main_thread():
        feed.start(stop)
        waker = Waker(runtime.db).start(stop)
        start_workers(runtime, printed, stop, waker=waker)
        start_deploy_workers(runtime, printed, stop, waker=waker)
        start_refine_relay(runtime, stop)  # no clock runs beside the console: its Jules threads are relayed here
    try:
        terminal.loop()
    finally:
        stop.set()
    return 0


def worker(config: Config, *, threads: int) -> int:
    """Background jobs and deployment runs, ``threads`` loops of each."""
    from bot.deploy_worker import start_deploy_workers
    from bot.worker import start_workers

    runtime = build_runtime(config)
    stop = stop_event()
    found = messengers(runtime)
    waker = Waker(runtime.db).start(stop)  # one listening connection wakes every loop of the process
    loops = start_workers(runtime, found, stop, count=max(1, threads), waker=waker)
    loops += start_deploy_workers(runtime, found, stop, count=max(1, threads), waker=waker)
    for thread in loops:
        thread.join()
    return 0


def clock(config: Config) -> int:
    """The scheduler, until SIGTERM or SIGINT."""
    from bot.scheduler import build_scheduler

    runtime = build_runtime(config)
    stop = stop_event()
    scheduler = build_scheduler(runtime)
    scheduler.start()
    log.info("clock started")
    stop.wait()
    scheduler.shutdown(wait=False)
    return 0


HOST = "0.0.0.0"


def web(config: Config) -> int:
    """The HTTP server: ``/healthz`` and ``/metrics``, and the Slack and Stripe endpoints when configured.

    ``/slack/events`` is served when ``SLACK_BOT_TOKEN`` is set (or Slack OAuth, with ``/slack/install`` and
    ``/slack/oauth_redirect``), ``/stripe/webhook`` when ``STRIPE_WEBHOOK_SECRET`` is.
    """
    from bot.slack.app import build_app, slack_served
    from bot.web import start_background

    runtime = build_runtime(config)
    stop = stop_event()
    slack_app = build_app(runtime) if slack_served(config) else None
    server = start_background(runtime, slack_app, HOST, config.port)
    log.info("web serving", extra={"port": server.port, "slack": slack_app is not None,
                                   "stripe_webhook": bool(config.stripe_webhook_secret),
                                   "metrics_protected": bool(config.metrics_token)})
    stop.wait()
    server.stop()
    return 0


def slack(config: Config, *, http: bool) -> int:
    """The Slack front door alone: Socket Mode, or HTTP mode (``POST /slack/events``) with ``--http``."""
    if not (config.slack_bot_token or config.slack_oauth):
        raise NotConfigured("The Slack front door needs SLACK_BOT_TOKEN (or, to install it in many workspaces, "
                            "SLACK_CLIENT_ID, SLACK_CLIENT_SECRET and SLACK_SIGNING_SECRET).")
    if http and not config.slack_signing_secret:
        raise NotConfigured("HTTP mode needs SLACK_SIGNING_SECRET (from the Slack app's Basic Information).")
    if not http and not config.slack_app_token:
        raise NotConfigured("Socket Mode needs SLACK_APP_TOKEN (an xapp- token with connections:write).",
                            hint="Or run `python -m bot slack --http` with SLACK_SIGNING_SECRET.")
    if http:
        return web(config)
    from bot.slack.app import build_app
    from bot.slack.socket_mode import start_socket_mode, stop_socket_mode

    runtime = build_runtime(config)
    stop = stop_event()
    handler = start_socket_mode(build_app(runtime), config.slack_app_token)
    stop.wait()
    stop_socket_mode(handler)
    return 0


def run(config: Config) -> int:
    """Every configured front door, the HTTP server, a worker and the scheduler, in one process."""
    from bot.deploy_worker import start_deploy_workers
    from bot.scheduler import build_scheduler
    from bot.web import report_front_door, start_background
    from bot.worker import start_workers

    require_chat(config)
    runtime = build_runtime(config)
    stop = stop_event()
    stops: list[tuple[str, Callable[[], object]]] = []
    found: dict[str, Messenger] = {}
    slack_app = None
    try:
        if config.slack_configured:
            from bot.slack.app import build_app, make_messenger

            slack_app = build_app(runtime)
            found["slack"] = make_messenger(runtime, slack_app.client)
            if config.slack_app_token:
                from bot.slack.socket_mode import start_socket_mode, stop_socket_mode

                handler = start_socket_mode(slack_app, config.slack_app_token)
                stops.append(("slack", lambda: stop_socket_mode(handler)))
                report_front_door("slack", lambda: bool(handler.client.is_connected()))
        server = start_background(runtime, slack_app, HOST, config.port)
        stops.append(("web", server.stop))
        if config.discord_configured:
            from bot.discord.client import DiscordRunner
            from bot.discord.messenger import DiscordMessenger

            runner = DiscordRunner(runtime)
            stops.append(("discord", runner.stop))
            runner.start()
            found["discord"] = DiscordMessenger(config, runner.current)
            report_front_door("discord", lambda: (client := runner.current()) is not None and client.health())
        waker = Waker(runtime.db).start(stop)
        start_workers(runtime, found, stop, waker=waker)
        start_deploy_workers(runtime, found, stop, waker=waker)
        scheduler = build_scheduler(runtime)
        scheduler.start()
        stops.append(("clock", lambda: scheduler.shutdown(wait=False)))
        log.info("RAD is running", extra={"front_doors": sorted(found), "port": server.port})
        stop.wait()
    finally:
        stop.set()
        for name, halt in reversed(stops):
            try:
                halt()
            except Exception:
                log.exception("error while stopping", extra={"part": name})
    return 0


def discord(config: Config) -> int:
    """The Discord front door; raises NotConfigured without ``DISCORD_TOKEN``."""
    from bot.discord.client import run_discord

    if not config.discord_configured:
        raise NotConfigured("The Discord front door needs DISCORD_TOKEN.")
    run_discord(build_runtime(config))
    return 0


def messengers(runtime: Runtime) -> dict[str, Messenger]:
    """Messengers of the configured platforms, for processes without a live chat client (worker, clock)."""
    from bot.discord.messenger import DiscordMessenger
    from bot.slack.app import make_messenger, slack_served

    found: dict[str, Messenger] = {}
    if slack_served(runtime.config):
        found["slack"] = make_messenger(runtime)
    if runtime.config.discord_configured:
        found["discord"] = DiscordMessenger(runtime.config)
    return found


def chat_problems(config: Config) -> list[str]:
    """What is missing or inconsistent in the chat configuration, in words a person can act on."""
    problems = []
    if config.slack_bot_token and not (config.slack_app_token or config.slack_signing_secret):
        problems.append("SLACK_BOT_TOKEN is set, but Slack also needs SLACK_APP_TOKEN (Socket Mode) "
                        "or SLACK_SIGNING_SECRET (HTTP mode).")
    if (config.slack_app_token or config.slack_signing_secret) and not (config.slack_bot_token or config.slack_oauth):
        problems.append("Slack needs SLACK_BOT_TOKEN (the xoxb- bot token) as well.")
    if (config.slack_client_id or config.slack_client_secret) and not config.slack_oauth:
        problems.append("Installing Slack in many workspaces needs SLACK_CLIENT_ID, SLACK_CLIENT_SECRET and "
                        "SLACK_SIGNING_SECRET together.")
    if config.slack_app_token and not config.slack_app_token.startswith("xapp-"):
        problems.append("SLACK_APP_TOKEN must be an app-level token starting with xapp-.")
    return problems


def require_chat(config: Config) -> None:
    """Raise NotConfigured, with what to set, unless at least one chat platform is fully configured."""
    problems = chat_problems(config)
    if problems:
        raise NotConfigured("\n".join(problems))
    if not (config.slack_configured or config.discord_configured):
        raise NotConfigured(NO_CHAT_CREDENTIALS)
