"""Resident memory of an idle ``python -m bot run`` with Slack and Discord configured against the emulators.

Run: ``python bench/idle_memory.py [--idle SECONDS]``. Prints the bot's RSS after start-up, after some
requests and after idling, next to a bare Python interpreter's RSS measured in the same run.
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
    args = parser.parse_args()
    bare = bare_python_kib()
    with tempfile.TemporaryDirectory() as tmp, bot_run(Path(tmp) / "data") as bot:
        started = bot.rss_kib()
        for _ in range(20):
            bot.slash("help")
        bot.slack.wait_for("/webhook/process", count=20, timeout=20)
        busy = bot.rss_kib()
        time.sleep(args.idle)
        idle = bot.rss_kib()
    print("Resident memory of `python -m bot run` (Slack HTTP mode + Discord gateway, emulators, SQLite)")
    for label, kib in (("after start-up", started), ("after 20 /rad help", busy), (f"idle {args.idle:.0f} s", idle),
                       ("bare python interpreter", bare)):
        print(f"{label:26} {kib / 1024:8.1f} MiB")
    print(f"{'ratio idle bot / bare':26} {idle / bare:8.1f}x")


if __name__ == "__main__":
    main()
