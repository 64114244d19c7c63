"""The Terraform runner: one deployment action (create, update, destroy) as init → plan → show → apply.

A destroy is a ``plan -destroy`` applied the same way. What the plan would do is read from Terraform's
machine-readable plan (``show -json``), never from its human text. A run can also stop after the plan
(phase ``plan``: the saved plan file and its human-readable text come back, for a review) and a later run
apply exactly that saved plan (phase ``apply``): Terraform itself refuses a saved plan whose state moved.

Pure core: no database, no chat. The caller prepares a fresh working directory (:func:`prepare_workdir`), says
how Terraform runs (:class:`core.terraform.launch.Terraform`: engine, sandbox, limits) and where the state is
kept (a :class:`core.terraform.backend.StateStore`), and gets a :class:`RunResult` back: a status, the plan
summary, the outputs, the error and a log in which every sensitive value is masked. Terraform reads and writes
the state through its ``http`` backend, served for this run only (see :mod:`core.terraform.backend`). Progress
callbacks let a chat message follow the run step by step.
"""

from __future__ import annotations

import json
import logging
import re
import socket
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from core.errors import InvalidInput
from core.incidents import report
from core.modules.parser import ModuleSpec
from core.terraform.backend import SOCKET_NAME, StateServer, StateStore
from core.terraform.engine import (
    INIT_ARGS,
    INTERNAL_EXIT,
    OUTPUT_ARGS,
    VERSION_ARGS,
    apply_args,
    destroy_plan_args,
    plan_args,
    show_args,
    show_text_args,
)
from core.terraform.launch import Terraform
from core.terraform.output import Masker, PlanSummary, error_text, parse_plan_json, tail
from core.terraform.process import ProcessResult
from core.terraform.sandbox import INSIDE_STATE
from core.terraform.workdir import (
    BACKEND_FILE,
    ERRORED_STATE,
    PLAN_FILE,
    VAR_FILE,
    prepare_workdir,
    write_backend_file,
    write_plan_file,
    write_var_file,
)

__all__ = [
    "ACTIONS", "TAIL_LINES", "Action", "Phase", "PlanSummary", "Progress", "RunResult", "RunStatus", "StepRecord",
    "prepare_workdir", "run", "sensitive_inputs", "write_var_file",
]

logger = logging.getLogger(__name__)

Action = Literal["create", "update", "destroy"]
ACTIONS: tuple[Action, ...] = ("create", "update", "destroy")
Phase = Literal["all", "plan", "apply"]
"""A whole run (plan then apply), only its plan (kept for a review), or the apply of a saved plan."""
TAIL_LINES = 40
PRIVATE_STATE_PORT = 40080
"""The state relay's port inside a sandbox with a network namespace of its own (no other process is there)."""
_VERSION_LINE = re.compile(r"^(OpenTofu|Terraform) v?(\S+)", re.MULTILINE)


class RunStatus(StrEnum):
    """How a run ended, in the platform's words."""

    SUCCESS = "SUCCESS"
    FAILURE = "FAILURE"
    TIMEOUT = "TIMEOUT"
    INTERNAL_ERROR = "INTERNAL_ERROR"


@dataclass(frozen=True)
class Progress:
    """A step started (``running``) or ended (``done``, ``failed``); ``detail`` is masked and short."""

    step: str
    state: Literal["running", "done", "failed"]
    elapsed: float
    detail: str = ""


@dataclass(frozen=True)
class StepRecord:
    """One Terraform command of a run: ``returncode`` is None when it timed out or could not start."""

    name: str
    command: str
    returncode: int | None
    duration: float
    timed_out: bool = False


@dataclass(frozen=True)
class RunResult:
    """The outcome of :func:`run`. Nothing in it holds a sensitive value, except ``saved_plan``.

    ``outputs`` are the non-sensitive outputs after an apply; ``sensitive_outputs`` names the others.
    ``error`` is Terraform's error text (or why the run stopped); ``log`` is every command's output.
    After a ``plan`` phase, ``saved_plan`` is the plan file (it can hold sensitive values: seal it, never
    show it) and ``plan_text`` the plan as Terraform shows it to people, sensitive values masked.
    """

    status: RunStatus
    action: Action
    engine: str
    plan: PlanSummary | None
    outputs: Mapping[str, Any]
    sensitive_outputs: tuple[str, ...]
    error: str
    log: str
    steps: tuple[StepRecord, ...]
    duration: float
    saved_plan: bytes | None = field(default=None, repr=False)
    plan_text: str = ""

    @property
    def ok(self) -> bool:
        """True on SUCCESS."""
        return self.status is RunStatus.SUCCESS

    @property
    def tail(self) -> str:
        """The last :data:`TAIL_LINES` lines of the log, for a chat message."""
        return tail(self.log, TAIL_LINES)


def sensitive_inputs(spec: ModuleSpec) -> set[str]:
    """The names of a module's sensitive input variables."""
    return {variable.name for variable in spec.inputs if variable.sensitive}


def run(
    terraform: Terraform,
    workdir: Path,
    action: Action,
    values: Mapping[str, Any],
    sensitive: Iterable[str],
    timeout: float,
    on_progress: Callable[[Progress], None] | None = None,
    *,
    state: StateStore,
    cancel: threading.Event | None = None,
    phase: Phase = "all",
    saved_plan: bytes | None = None,
) -> RunResult:
    """Run ``action`` in ``workdir`` with the variable ``values``, all steps within ``timeout`` seconds.

    ``sensitive`` names the variables whose values are masked everywhere. The state is read from and written
    to ``state`` as Terraform goes; ``cancel`` stops the command that is running. The var file and the saved
    plan are removed afterwards. ``phase`` ``plan`` stops after the plan and returns it; ``apply`` applies
    ``saved_plan`` (a plan file a ``plan`` phase returned) and nothing else.

    Raises:
        InvalidInput: an unknown action or a value that cannot be written to the var file, or an ``apply``
            phase without its saved plan.
    """
    if action not in ACTIONS:
        raise InvalidInput(f"Unknown Terraform action {action!r}.", hint="Use create, update or destroy.")
    if (phase == "apply") != (saved_plan is not None):
        raise InvalidInput("Only the apply phase takes a saved plan, and it needs one.")
    secret_names = set(sensitive)
    masker = Masker.of_values(value for name, value in values.items() if name in secret_names)
    write_var_file(workdir, values)
    write_backend_file(workdir)
    if saved_plan is not None:
        write_plan_file(workdir, saved_plan)
    server = StateServer(state)
    session = _Session(terraform, workdir, action, timeout, masker.adding([server.password]), on_progress,
                       server, state, cancel)
    session.phase = phase
    try:
        server.start()
        terraform.prepare_control(server.directory)
        return session.perform()
    except Exception:  # a bug or an OS failure: reported as INTERNAL_ERROR with an id, never raised to chat
        incident = report(logger, "Terraform run failed unexpectedly")
        return session.finish(RunStatus.INTERNAL_ERROR,
                              f"The Terraform run failed unexpectedly (error id {incident.error_id}).")
    finally:
        server.stop()
        for name in (VAR_FILE, PLAN_FILE, BACKEND_FILE):
            (workdir / name).unlink(missing_ok=True)


@dataclass(frozen=True)
class _Outcome:
    """A finished step: its process result, and the status that ends the run when it did not succeed."""

    result: ProcessResult
    status: RunStatus | None = None
    error: str = ""


class _Session:
    """The mutable state of one run: deadline, log, step records, what is masked."""

    def __init__(self, terraform: Terraform, workdir: Path, action: Action, timeout: float, masker: Masker,
                 on_progress: Callable[[Progress], None] | None, server: StateServer, state: StateStore,
                 cancel: threading.Event | None) -> None:
        self.terraform, self.workdir, self.action, self.timeout = terraform, workdir, action, timeout
        self.masker, self.on_progress = masker, on_progress
        self.server, self.state, self.cancel = server, state, cancel
        self.started = time.monotonic()
        self.deadline = self.started + timeout
        self.description = ""
        self.log: list[str] = []
        self.steps: list[StepRecord] = []
        self.plan: PlanSummary | None = None
        self.outputs: dict[str, Any] = {}
        self.sensitive_outputs: tuple[str, ...] = ()
        self.phase: Phase = "all"
        self.saved_plan: bytes | None = None
        self.plan_text = ""

    def perform(self) -> RunResult:
        self.description = self.terraform.describe()
        version = self.step("version", VERSION_ARGS, quiet=True)
        if version.status is not None:
            return self.finish(version.status, version.error)
        found = _VERSION_LINE.search(version.result.stdout)
        if found:
            self.description = f"{found.group(1)} {found.group(2)} ({self.description})"
        self.log.insert(0, f"# {self.action} with {self.description}")
        destroying = self.action == "destroy"
        planning = destroy_plan_args(VAR_FILE, PLAN_FILE) if destroying else plan_args(VAR_FILE, PLAN_FILE)
        steps = (("init", INIT_ARGS),) if self.phase == "apply" else (("init", INIT_ARGS), ("plan", planning))
        for name, args in steps:
            outcome = self.step(name, args)
            if outcome.status is not None:
                return self.finish(outcome.status, outcome.error)
            if name == "plan":
                self.read_plan()
            self.notify(name, "done", self.plan.text if self.plan and name == "plan" else "")
        if self.phase == "plan":
            return self.keep_plan()
        applied = self.step("destroy" if destroying else "apply", apply_args(PLAN_FILE))
        if applied.status is not None:
            return self.finish(applied.status, applied.error)
        self.notify("destroy" if destroying else "apply", "done")
        if not destroying:
            self.read_outputs()
        return self.finish(RunStatus.SUCCESS, "")

    def keep_plan(self) -> RunResult:
        """End a ``plan`` phase: the saved plan file, and the plan as people read it (masked)."""
        shown = self.step("show", show_text_args(PLAN_FILE), quiet=True)
        if shown.status is not None:
            return self.finish(shown.status, shown.error)
        if self.plan is None:
            return self.finish(RunStatus.FAILURE, "Terraform's plan could not be read, so it cannot be reviewed.")
        self.plan_text = self.masker.mask(shown.result.stdout)
        self.saved_plan = (self.workdir / PLAN_FILE).read_bytes()
        return self.finish(RunStatus.SUCCESS, "")

    def read_plan(self) -> None:
        """``show -json`` of the saved plan: the summary and the resources it names (none when unreadable)."""
        shown = self.step("show", show_args(PLAN_FILE), quiet=True)
        if shown.status is not None or shown.result.truncated:
            self.log.append("# the plan could not be read as JSON; it is applied as planned")
            return
        self.plan = parse_plan_json(shown.result.stdout)

    def step(self, name: str, args: Sequence[str], *, quiet: bool = False) -> _Outcome:
        """Run one command within what is left of the time limit, and log it (``quiet``: not its stdout)."""
        command = "terraform " + " ".join(args)
        if not quiet:
            self.notify(name, "running")
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            result = ProcessResult(None, "", "", 0.0, timed_out=True)
        else:
            result = self.terraform.execute(args, workdir=self.workdir, control=self.server.directory,
                                            timeout=remaining, extra_env=self.state_environment(), cancel=self.cancel)
        self.keep_errored_state()
        self.steps.append(StepRecord(name, command, result.returncode, result.duration, result.timed_out))
        self.log.append(f"$ {command}")
        self.log.extend(text.rstrip("\n") for text in ("" if quiet else result.stdout, result.stderr) if text)
        outcome = self.judge(name, result)
        self.log.append(f"# {name}: {_ending(result)} after {result.duration:.1f}s")
        if outcome.status is not None and not quiet:
            self.notify(name, "failed", outcome.error.splitlines()[0] if outcome.error else "")
        return outcome

    def state_environment(self) -> dict[str, str]:
        """How this command reaches the state backend: the relay's port, the socket, the password."""
        port = PRIVATE_STATE_PORT if self.terraform.private_network else _free_port()
        socket_path = f"{self.terraform.inside_path(INSIDE_STATE, self.workdir, self.server.directory)}/{SOCKET_NAME}"
        return {**self.server.environment(port), "RAD_STATE_SOCKET": socket_path, "RAD_STATE_PORT": str(port)}

    def keep_errored_state(self) -> None:
        """Store the state Terraform could not write to the backend (it saves it as ``errored.tfstate``)."""
        errored = self.workdir / ERRORED_STATE
        if not errored.is_file():
            return
        try:
            self.state.save(errored.read_bytes())
            self.log.append("# Terraform could not write its state to the bot; the bot stored errored.tfstate")
        except Exception:
            logger.exception("could not store errored.tfstate")
            self.log.append("# Terraform could not write its state, and neither could the bot")
        finally:
            errored.unlink(missing_ok=True)

    def judge(self, name: str, result: ProcessResult) -> _Outcome:
        if result.cancelled:
            return _Outcome(result, RunStatus.INTERNAL_ERROR,
                            f"Terraform {name} was stopped: this worker no longer holds the run.")
        if result.start_error:
            return _Outcome(result, RunStatus.INTERNAL_ERROR, f"Terraform could not be started: {result.start_error}")
        if result.timed_out:
            return _Outcome(result, RunStatus.TIMEOUT,
                            f"Terraform {name} did not finish within the {self.timeout:g}s limit and was stopped.")
        if result.returncode == 0:
            return _Outcome(result)
        message = error_text(result.stderr, result.stdout)
        if result.returncode == INTERNAL_EXIT:
            return _Outcome(result, RunStatus.INTERNAL_ERROR, f"Terraform could not be started: {message}")
        if result.returncode == 1:
            return _Outcome(result, RunStatus.FAILURE, message or f"Terraform {name} failed.")
        return _Outcome(result, RunStatus.INTERNAL_ERROR,
                        f"Terraform {name} ended abnormally (exit code {result.returncode}). {message}".strip())

    def read_outputs(self) -> None:
        """``output -json``: non-sensitive values kept, sensitive ones only named and added to the mask."""
        outcome = self.step("output", OUTPUT_ARGS, quiet=True)
        if outcome.status is not None:
            self.log.append("# the outputs could not be read; the apply itself succeeded")
            return
        if outcome.result.truncated:
            limit = self.terraform.limits.output_bytes
            self.log.append(f"# the outputs are larger than the {limit} bytes the bot reads; they are not shown")
            return
        try:
            raw: dict[str, Any] = json.loads(outcome.result.stdout or "{}")
        except ValueError:
            self.log.append("# the outputs are not valid JSON; the apply itself succeeded")
            return
        hidden = {name: item.get("value") for name, item in raw.items() if item.get("sensitive")}
        self.masker = self.masker.adding(hidden.values())
        self.sensitive_outputs = tuple(sorted(hidden))
        self.outputs = {name: self.masker.mask_value(item.get("value"))
                        for name, item in sorted(raw.items()) if name not in hidden}
        self.log.append(f"# outputs: {', '.join(self.outputs) or 'none'}"
                        + (f"; sensitive: {', '.join(self.sensitive_outputs)}" if hidden else ""))

    def notify(self, step: str, state: Literal["running", "done", "failed"], detail: str = "") -> None:
        if self.on_progress is None:
            return
        try:
            self.on_progress(Progress(step, state, time.monotonic() - self.started, self.masker.mask(detail)))
        except Exception:  # a chat edit that fails must not stop a deployment
            logger.exception("Terraform progress callback failed", extra={"step": step})

    def finish(self, status: RunStatus, error: str) -> RunResult:
        return RunResult(
            status=status, action=self.action, engine=self.description, plan=self.plan,
            outputs=MappingProxyType(dict(self.outputs)), sensitive_outputs=self.sensitive_outputs,
            error=self.masker.mask(error), log=self.masker.mask("\n".join(self.log)) + "\n",
            steps=tuple(self.steps), duration=time.monotonic() - self.started,
            saved_plan=self.saved_plan if status is RunStatus.SUCCESS else None, plan_text=self.plan_text,
        )


def _free_port() -> int:
    """A port free on this host's loopback now (for a relay that shares the host's network)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _ending(result: ProcessResult) -> str:
    if result.cancelled:
        return "stopped"
    if result.start_error:
        return "not started"
    return "timed out" if result.timed_out else f"exit {result.returncode}"
