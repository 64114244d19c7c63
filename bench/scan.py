"""Scan cost: API calls and time for a 200-module repository in the GitHub emulator, against a naive scan.

Run: ``python bench/scan.py [--modules N] [--latency SECONDS] [--workers N] [--no-naive]``. The emulator
answers after ``--latency`` (default 50 ms, a far network). Prints, measured in one run: the first scan with
blobs read ``--workers`` at a time and one at a time (each on an empty parse cache), a rescan with no change
(goal: at most 2 calls), a rescan after one module changed (goal: at most 2 + the changed files), modules
parsed per second (goal: at least 200 on one core), and a naive scan that lists every directory and fetches
every file through the contents API, as ratios.
"""

from __future__ import annotations

import argparse
import base64
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import requests
from parse_rate import bench_parse

from core.accounts.identity import IdentityKey, create_user
from core.catalog import scan as scanner
from core.config import Config
from core.repos import connections
from core.repos.github import GitHubClient
from core.services import Services
from storage.db import Database
from storage.migrate import upgrade
from storage.models import utcnow
from tests.emulators.github import GitHubEmulator, running


def module_files(n: int, cost: int = 10) -> dict[str, str]:
    """A typical module: 3 files, none shared with another module, a few inputs with metadata and UIMeta tags."""
    return {
        f"module-{n:03}/variables.tf": (
            f'variable "module_description" {{\n  default = "Module {n}"\n}}\n'
            f'variable "credit_cost" {{\n  default = {cost}\n}}\n'
            'variable "region" {\n  type = string\n  default = "europe-west1"\n'
            '  description = "Where it runs {{UIMeta group=1 order=1}}"\n'
            '  validation {\n    condition = contains(["europe-west1", "us-central1"], var.region)\n'
            '    error_message = "Pick a supported region."\n  }\n}\n'
            'variable "size" {\n  type = number\n  description = "How big {{UIMeta group=1 order=2}}"\n}\n'
            'variable "labels" {\n  type = map(string)\n  default = {}\n}\n'
        ),
        f"module-{n:03}/main.tf": f'locals {{\n  name = "m{n}-${{var.region}}-${{var.size}}"\n}}\n',
        f"module-{n:03}/outputs.tf": (f'output "name" {{\n  description = "Name of module {n}"\n'
                                     '  value = local.name\n}\n'),
    }


def timed_scan(db: Database, services: Services, connection_id: int, github: GitHubEmulator,
               ) -> tuple[int, float, int]:
    before = github.count()
    started = time.perf_counter()
    result = scanner.scan(db, services, connection_id, utcnow())
    return github.count() - before, time.perf_counter() - started, result.parsed_files


def naive_scan(github: GitHubEmulator, token: str, full_name: str) -> tuple[int, float]:
    """List the root, then every directory, then fetch every .tf file: what a scan without trees costs."""
    session = requests.Session()
    session.headers["Authorization"] = f"token {token}"
    before, started = github.count(), time.perf_counter()
    base = f"{github.url}/repos/{full_name}/contents"
    for entry in session.get(base, timeout=30).json():
        if entry["type"] != "dir":
            continue
        for item in session.get(f"{base}/{entry['path']}", timeout=30).json():
            if item["name"].endswith(".tf"):
                blob = session.get(f"{base}/{item['path']}", timeout=30).json()
                base64.b64decode(blob["content"])
    return github.count() - before, time.perf_counter() - started


def connected(tmp: Path, name: str, services: Services, token: str) -> tuple[Database, int]:
    """A fresh database (an empty parse cache) whose partner is connected to ``bench/modules``."""
    db = Database(f"sqlite:///{tmp}/{name}.db")
    upgrade(db.engine)
    with db.unit_of_work() as session:
        partner = create_user(session, IdentityKey("console", "", "bench"), "bench")
    with db.unit_of_work() as session:  # no network inside a transaction: each call gets a fresh session
        connections.connect_token(session, services, partner, partner, token, utcnow())
    with db.unit_of_work() as session:
        connections.choose_repository(db, session, services, partner, partner, "bench/modules", utcnow())
        return db, connections.find_repo(session, partner).id  # type: ignore[union-attr]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--modules", type=int, default=200)
    parser.add_argument("--latency", type=float, default=0.05, help="seconds the emulator delays every answer")
    parser.add_argument("--workers", type=int, default=GitHubClient.read_workers, help="blobs read at a time")
    parser.add_argument("--no-naive", action="store_true", help="skip the naive scan (slow on a far network)")
    args = parser.parse_args()
    files: dict[str, str] = {}
    for n in range(args.modules):
        files.update(module_files(n))
    with tempfile.TemporaryDirectory() as tmp, running(latency=args.latency) as github:
        repo = github.add_repo("bench/modules", files)
        token = github.add_token("bench")
        config = Config(data_dir=Path(tmp), github_api_url=github.url)
        one_at_a_time = Services(config, github_options={"throttle": None, "read_workers": 1})
        services = Services(config, github_options={"throttle": None, "read_workers": args.workers})
        serial_db, serial_id = connected(Path(tmp), "serial", one_at_a_time, token)
        serial = timed_scan(serial_db, one_at_a_time, serial_id, github)
        serial_db.dispose()
        db, connection_id = connected(Path(tmp), "bench", services, token)
        github.peak_in_flight = 0
        first = timed_scan(db, services, connection_id, github)
        peak = github.peak_in_flight
        unchanged = timed_scan(db, services, connection_id, github)
        repo.commit(dict([next(iter(module_files(0, cost=20).items()))]), "Change one module")
        changed = timed_scan(db, services, connection_id, github)
        naive = (0, 0.0) if args.no_naive else naive_scan(github, token, "bench/modules")
        db.dispose()
    fast = max(bench_parse(200) for _ in range(3))
    reference = max(bench_parse(40, reference=True) for _ in range(2))
    print(f"Scan of a {args.modules}-module repository (3 distinct files each) in the GitHub emulator answering "
          f"after {args.latency * 1000:.0f} ms, SQLite cache")
    print(f"{'':40}{'API calls':>10}{'seconds':>10}{'files parsed':>14}")
    for label, (calls, seconds, parsed) in ((f"first scan, {args.workers} blobs at a time", first),
                                            ("first scan, one blob at a time", serial),
                                            ("rescan, nothing changed", unchanged),
                                            ("rescan, one module changed", changed)):
        print(f"{label:40}{calls:>10}{seconds:>10.3f}{parsed:>14}")
    print(f"ratio one at a time / concurrent first scan: time {serial[1] / first[1]:.1f}x "
          f"(at most {peak} requests in flight)")
    if not args.no_naive:
        print(f"{'naive scan (contents API)':40}{naive[0]:>10}{naive[1]:>10.3f}")
        print(f"ratio naive / first scan:  calls {naive[0] / first[0]:.1f}x, time {naive[1] / first[1]:.1f}x")
        print(f"ratio naive / rescan:      calls {naive[0] / max(1, unchanged[0]):.0f}x, "
              f"time {naive[1] / unchanged[1]:.0f}x")
    print(f"goals: unchanged rescan <= 2 calls: {unchanged[0]}; changed rescan <= 2 + 1 file: {changed[0]}")
    print(f"modules parsed per second, one core: {fast:.0f} (fast reader), {reference:.0f} (python-hcl2 alone); "
          "goal >= 200")


if __name__ == "__main__":
    main()
