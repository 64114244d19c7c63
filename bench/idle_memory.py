"""Resident memory of an idle ``python -m bot run`` with Slack and Discord configured against the emulators.

Run: ``python bench/idle_memory.py [--idle SECONDS] [--requests N] [--database-url URL]`` (SQLite in a
temporary folder unless a PostgreSQL URL is given; its tables are emptied by nothing, so give a scratch
database). Prints the bot's RSS after start-up, after N ``/rad help`` requests (default 2,500) and after idling,
next to a bare Python interpreter's RSS measured in the same run.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.processes import bot_run


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def bare_python_kib() -> int:
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        time.sleep(1.0)
        return rss_kib(process.pid)
    finally:
        process.kill()
        process.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--idle", type=float, default=10.0, help="seconds to idle before the last reading")
    parser.add_argument("--requests", type=int, default=2500, help="/rad help requests before the busy reading")
    parser.add_argument("--database-url", default="", help="a PostgreSQL URL (default: SQLite in a temporary folder)")
    args = parser.parse_args()
    bare = bare_python_kib()
    with tempfile.TemporaryDirectory() as tmp, bot_run(Path(tmp) / "data", database_url=args.database_url) as bot:
        time.sleep(args.idle)
        started = bot.rss_kib()
        began = time.perf_counter()
        for _ in range(args.requests):
            bot.slash("help")
        bot.slack.wait_for("/webhook/process", count=args.requests, timeout=max(60, args.requests / 5))
        seconds = time.perf_counter() - began
        busy = bot.rss_kib()
        time.sleep(args.idle)
        idle = bot.rss_kib()
    engine = "PostgreSQL" if args.database_url.startswith("postgresql") else "SQLite"
    print(f"Resident memory of `python -m bot run` (Slack HTTP mode + Discord gateway, emulators, {engine})")
    for label, kib in ((f"idle {args.idle:.0f} s after start-up", started),
                       (f"after {args.requests:,} /rad help ({seconds:.0f} s)", busy),
                       (f"idle {args.idle:.0f} s after them", idle), ("bare python interpreter", bare)):
        print(f"{label:36} {kib / 1024:8.1f} MiB")
    print(f"{'ratio idle bot / bare':36} {idle / bare:8.1f}x")
    print(f"{'growth over the requests':36} {(idle - started) / 1024:8.1f} MiB")


if __name__ == "__main__":
    main()
