"""``python -m bot <role>`` (also the ``rad`` console script): every process of DESIGN.md section 3."""

from __future__ import annotations

import argparse
import getpass
import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from bot.logs import configure_logging
from core.config import Config
from core.errors import RadError

log = logging.getLogger("bot")


class Terminated(BaseException):
    """SIGTERM arrived while the process was still starting: nothing was taken yet, so it just exits (status 0)."""


def _terminated_while_starting(_signum: int, _frame: object) -> None:
    raise Terminated


def parser() -> argparse.ArgumentParser:
    """The command line: one subcommand per process role, with its options."""
    p = argparse.ArgumentParser(prog="rad", description="RAD chat-ops bot")
    sub = p.add_subparsers(dest="role", required=True, metavar="role")
    sub.add_parser("run", help="every configured front door, the worker and the scheduler in one process")
    slack = sub.add_parser("slack", help="the Slack front door (Socket Mode, or --http)")
    slack.add_argument("--http", action="store_true", help="serve POST /slack/events instead of Socket Mode")
    sub.add_parser("discord", help="the Discord front door")
    worker = sub.add_parser("worker", help="run queued background jobs")
    worker.add_argument("--threads", type=int, default=1, help="worker threads (default 1)")
    sub.add_parser("clock", help="the scheduler (housekeeping, digests)")
    sub.add_parser("web", help="the HTTP server: /slack/events, /healthz, /metrics")
    console = sub.add_parser("console", help="the offline terminal front door")
    console.add_argument("--as", dest="identity", default="",
                         help="act as this user: a console name, slack:<team>:<user> or discord:<user>")
    console.add_argument("--demo", action="store_true", help="seed a demo platform and act as its admin")
    console.add_argument("--files", type=Path, default=None, help="folder for attachments")
    sub.add_parser("migrate", help="upgrade the database to the newest migration")
    costs = sub.add_parser("import-costs", help="import one Google Cloud billing-export CSV file now")
    costs.add_argument("file", type=Path, help="the CSV file (Google Cloud's standard usage cost export)")
    sub.add_parser("rotate-secrets", help="re-encrypt every stored secret under the newest RAD_SECRET_KEY")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run the role named on the command line; returns the exit status (2 after a RadError, 130 on Ctrl-C).

    Every long-running role stops on SIGTERM: it takes no new work, lets the work in hand finish and exits 0
    (its stop handler is set in :mod:`bot.processes`); a SIGTERM before that, while starting, exits 0 at once.
    """
    args = parser().parse_args(argv)
    quiet = args.role == "console" and not os.environ.get("RAD_LOG_LEVEL")
    configure_logging("WARNING" if quiet else None)  # the console's screen is for the conversation
    if threading.current_thread() is threading.main_thread():  # until the role sets its own stop handler
        signal.signal(signal.SIGTERM, _terminated_while_starting)
    try:
        config = Config.from_env()
        return run_role(args, config)
    except RadError as error:
        print(f"rad: {error}", file=sys.stderr)
        return 2
    except Terminated:
        log.info("stopped by SIGTERM while starting")
        return 0
    except KeyboardInterrupt:
        return 130


def run_role(args: argparse.Namespace, config: Config) -> int:
    """Start the process for ``args.role``; returns its exit status."""
    from bot import processes

    if args.role == "migrate":
        return processes.migrate(config)
    if args.role == "import-costs":
        return processes.import_costs(config, args.file)
    if args.role == "rotate-secrets":
        return processes.rotate_secrets(config)
    if args.role == "console":
        identity = args.identity or f"console:{getpass.getuser()}"
        return processes.console(config, identity, demo=args.demo, files=args.files)
    if args.role == "worker":
        return processes.worker(config, threads=args.threads)
    if args.role == "clock":
        return processes.clock(config)
    if args.role == "web":
        return processes.web(config)
    if args.role == "slack":
        return processes.slack(config, http=args.http)
    if args.role == "discord":
        return processes.discord(config)
    return processes.run(config)


if __name__ == "__main__":
    sys.exit(main())
