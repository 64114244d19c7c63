"""A run's Terraform working directory: ``<data_dir>/runs/<key>/``, fresh for every run, gone when it ends.

Nothing of a run stays on disk: the state lives in the database (served to Terraform through its ``http``
backend), so the directory holds only the module's files, the var file, the saved plan and Terraform's
``.terraform`` folder while the run lasts. Each directory is locked (``flock``) by the process running it; a
worker that starts removes the directories whose owner died (:func:`remove_abandoned`).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
from collections.abc import Iterator, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

from core.errors import InvalidInput

VAR_FILE = "rad.tfvars.json"
PLAN_FILE = "rad.tfplan"
BACKEND_FILE = "rad_backend_override.tf"
"""The bot's own ``terraform { backend "http" {} }``; configured by environment variables, never by a module."""
ERRORED_STATE = "errored.tfstate"
LOCK_SUFFIX = ".lock"
RESERVED = frozenset({".terraform", ".terraform.lock.hcl", "terraform.tfstate", "terraform.tfstate.backup",
                      "terraform.tfstate.d", ERRORED_STATE, VAR_FILE, PLAN_FILE, BACKEND_FILE})
"""Top-level names a module's files may not use."""
BACKEND_TEXT = '# Written by RAD: the bot keeps the state.\nterraform {\n  backend "http" {}\n}\n'

_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


def runs_root(data_dir: Path) -> Path:
    """Where run directories live: ``<data_dir>/runs`` (created, mode 0700)."""
    root = (data_dir / "runs").resolve()
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    return root


def workdir_path(root: Path, run_key: str) -> Path:
    """The directory of the run ``run_key`` under the data directory ``root``."""
    if not _KEY.fullmatch(run_key) or ".." in run_key:
        raise InvalidInput(f"{run_key!r} is not a valid run key.",
                           hint="Use letters, digits, '.', '_' and '-' (at most 128).")
    return runs_root(root) / run_key


def prepare_workdir(root: Path, run_key: str, files: Mapping[str, bytes]) -> Path:
    """Write a module's ``files`` (relative POSIX paths) into a fresh directory for the run and return it.

    Raises:
        InvalidInput: a bad key, or a file path that is absolute, climbs out, or is one of :data:`RESERVED`.
    """
    workdir = workdir_path(root, run_key)
    targets = {_target(workdir, name): content for name, content in files.items()}
    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(mode=0o700)
    for target, content in targets.items():
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        target.write_bytes(content)
    return workdir


@contextlib.contextmanager
def run_directory(root: Path, run_key: str, files: Mapping[str, bytes]) -> Iterator[Path]:
    """A fresh, locked working directory for one run, removed with everything in it when the run ends."""
    lock_path = runs_root(root) / f"{run_key}{LOCK_SUFFIX}"
    with open(lock_path, "a+b") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            workdir = prepare_workdir(root, run_key, files)
            try:
                yield workdir
            finally:
                shutil.rmtree(workdir, ignore_errors=True)
        finally:
            lock_path.unlink(missing_ok=True)


def remove_abandoned(root: Path) -> list[str]:
    """Remove the run directories no live process holds (their worker was killed); returns their keys.

    Also removes the per-deployment directories of versions that kept the state on disk, once the state they
    held was imported (see :func:`legacy_state`).
    """
    removed = []
    base = runs_root(root)
    for entry in sorted(base.iterdir()):
        if entry.name.endswith(LOCK_SUFFIX) or not entry.is_dir():
            continue
        lock_path = base / f"{entry.name}{LOCK_SUFFIX}"
        with open(lock_path, "a+b") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # a live run
            shutil.rmtree(entry, ignore_errors=True)
            lock_path.unlink(missing_ok=True)
            removed.append(entry.name)
    return removed


def legacy_state(root: Path, deployment_key: str) -> Path | None:
    """``<data_dir>/deployments/<key>/terraform.tfstate`` left by a version that kept state on disk, if any."""
    if not _KEY.fullmatch(deployment_key):
        return None
    path = root / "deployments" / deployment_key / "terraform.tfstate"
    return path if path.is_file() else None


def forget_legacy(root: Path, deployment_key: str) -> None:
    """Remove a legacy per-deployment directory once its state is in the database."""
    if _KEY.fullmatch(deployment_key):
        shutil.rmtree(root / "deployments" / deployment_key, ignore_errors=True)


def _target(workdir: Path, name: str) -> Path:
    parts = name.split("/")
    if "\\" in name or "\0" in name or any(part in {"", ".", ".."} for part in parts) or parts[0] in RESERVED:
        raise InvalidInput(f"The module file path {name!r} is not allowed.",
                           hint="Module files must be relative paths inside the module, not Terraform's own files.")
    target = workdir.joinpath(*parts)
    if not target.resolve().is_relative_to(workdir.resolve()):
        raise InvalidInput(f"The module file path {name!r} leaves the working directory.")
    return target


def _write_private(path: Path, text: str) -> Path:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        os.fchmod(handle.fileno(), 0o600)
        handle.write(text)
    return path


def write_var_file(workdir: Path, values: Mapping[str, Any]) -> Path:
    """Write ``values`` as Terraform's JSON var file (one variable per line, mode 0600) and return its path.

    Raises:
        InvalidInput: a value that JSON cannot hold.
    """
    try:
        text = json.dumps(dict(values), indent=2, sort_keys=True, ensure_ascii=False, default=_json_default)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"A deployment value cannot be given to Terraform: {exc}") from exc
    return _write_private(workdir / VAR_FILE, text + "\n")


def write_backend_file(workdir: Path) -> Path:
    """Write the bot's backend block (an ``_override.tf`` file, so it wins over anything in the module)."""
    return _write_private(workdir / BACKEND_FILE, BACKEND_TEXT)


def write_plan_file(workdir: Path, plan: bytes) -> Path:
    """Write a saved plan (mode 0600) for Terraform to apply; it is removed with the var file after the run."""
    path = workdir / PLAN_FILE
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "wb") as handle:
        os.fchmod(handle.fileno(), 0o600)
        handle.write(plan)
    return path


def _json_default(value: object) -> Any:
    """Decimals as numbers, sets as sorted lists."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, set | frozenset):
        return sorted(value)
    raise TypeError(f"{type(value).__name__} is not a JSON value")
