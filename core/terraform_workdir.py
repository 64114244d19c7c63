"""Per-deployment Terraform working directories: ``<data_dir>/deployments/<key>/``.

The module's files are written fresh for every run; Terraform's local state (``terraform.tfstate``) and its
``.terraform`` folder stay, so a later update or destroy of the same deployment works on the same state.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

from core.errors import InvalidInput

VAR_FILE = "rad.tfvars.json"
PLAN_FILE = "rad.tfplan"
KEPT = frozenset({".terraform", "terraform.tfstate", "terraform.tfstate.backup", "terraform.tfstate.d"})
"""What survives between runs: Terraform's state and its downloaded providers and modules."""
RESERVED = KEPT | {VAR_FILE, PLAN_FILE}
"""Top-level names a module's files may not use."""

_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


def workdir_path(root: Path, deployment_key: str) -> Path:
    """Where the deployment ``deployment_key`` lives under the data directory ``root``."""
    if not _KEY.fullmatch(deployment_key) or ".." in deployment_key:
        raise InvalidInput(f"{deployment_key!r} is not a valid deployment key.",
                           hint="Use letters, digits, '.', '_' and '-' (at most 128).")
    return (root / "deployments" / deployment_key).resolve()


def prepare_workdir(root: Path, deployment_key: str, files: Mapping[str, bytes]) -> Path:
    """Write a module's ``files`` (relative POSIX paths) into the deployment's working directory and return it.

    Files of an earlier run are removed first, except Terraform's state and ``.terraform``.

    Raises:
        InvalidInput: a bad key, or a file path that is absolute, climbs out, or is one of :data:`RESERVED`.
    """
    workdir = workdir_path(root, deployment_key)
    targets = {_target(workdir, name): content for name, content in files.items()}
    workdir.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(workdir, 0o700)
    for entry in workdir.iterdir():
        if entry.name in KEPT and not entry.is_symlink():
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()
    for target, content in targets.items():
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        target.write_bytes(content)
    return workdir


def _target(workdir: Path, name: str) -> Path:
    parts = name.split("/")
    if "\\" in name or "\0" in name or any(part in {"", ".", ".."} for part in parts) or parts[0] in RESERVED:
        raise InvalidInput(f"The module file path {name!r} is not allowed.",
                           hint="Module files must be relative paths inside the module, not Terraform's own files.")
    target = workdir.joinpath(*parts)
    if not target.resolve().is_relative_to(workdir):
        raise InvalidInput(f"The module file path {name!r} leaves the working directory.")
    return target


def write_var_file(workdir: Path, values: Mapping[str, Any]) -> Path:
    """Write ``values`` as Terraform's JSON var file (one variable per line, mode 0600) and return its path.

    Raises:
        InvalidInput: a value that JSON cannot hold.
    """
    try:
        text = json.dumps(dict(values), indent=2, sort_keys=True, ensure_ascii=False, default=_json_default)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"A deployment value cannot be given to Terraform: {exc}") from exc
    path = workdir / VAR_FILE
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        os.fchmod(handle.fileno(), 0o600)
        handle.write(text + "\n")
    return path


def _json_default(value: object) -> Any:
    """Decimals as numbers, sets as sorted lists."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, set | frozenset):
        return sorted(value)
    raise TypeError(f"{type(value).__name__} is not a JSON value")
