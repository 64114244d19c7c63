"""How this worker starts a Terraform command: engine + sandbox + limits + an environment from an allow-list.

:class:`Terraform` is what the runner is given. Every command starts the child script
(:mod:`core.terraform.child`) with the Python runtime that runs the bot (``-I -S``: no site-packages, no
environment), inside the sandbox, with the run's working directory and its private state directory mounted.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from core.config import Config
from core.terraform import child as terraform_child
from core.terraform.engine import Engine, find_engine, plugin_cache_dir
from core.terraform.process import ProcessResult, run_process
from core.terraform.sandbox import (
    INSIDE_ENGINE,
    INSIDE_HOME,
    INSIDE_PLUGINS,
    INSIDE_STATE,
    INSIDE_WORKDIR,
    Limits,
    Mount,
    NoSandbox,
    Sandbox,
    make_sandbox,
)

log = logging.getLogger(__name__)

CLI_CONFIG_NAME = "terraformrc"
SANDBOX_PATH = "/usr/local/bin:/usr/bin:/bin"
_NEVER_PASSED_PREFIXES = ("TF_VAR_", "TF_CLI_", "TF_HTTP_", "TF_DATA_DIR", "TF_WORKSPACE", "TF_PLUGIN_CACHE",
                          "RAD_", "SLACK_", "DISCORD_", "STRIPE_", "JULES_", "GITHUB_", "DATABASE_URL", "PYTHON")
_NEVER_PASSED = frozenset({"PATH", "HOME", "PWD", "LD_PRELOAD", "LD_LIBRARY_PATH"})


def passed_environment(names: Sequence[str], source: Mapping[str, str] | None = None) -> dict[str, str]:
    """The variables named in ``RAD_TERRAFORM_ENV`` that are set, except the bot's own and Terraform's controls."""
    environ = os.environ if source is None else source
    passed = {}
    for name in names:
        if name in _NEVER_PASSED or name.startswith(_NEVER_PASSED_PREFIXES):
            log.warning("RAD_TERRAFORM_ENV names a variable that is never passed to Terraform",
                        extra={"variable": name})
        elif name in environ:
            passed[name] = environ[name]
    return passed


def cli_config(plugins: str) -> str:
    """Terraform's CLI configuration: providers from the read-only shared cache first, else downloaded per run."""
    return ("provider_installation {\n"
            f"  filesystem_mirror {{\n    path = \"{plugins}\"\n  }}\n"
            "  direct {}\n"
            "}\n")


@dataclass(frozen=True)
class Terraform:
    """The engine, the sandbox and the limits every command of a run is started with."""

    engine: Engine
    sandbox: Sandbox
    limits: Limits = field(default_factory=Limits)
    network: bool = True
    passed_env: Mapping[str, str] = field(default_factory=dict, hash=False, repr=False)
    python: str = field(default_factory=lambda: os.path.realpath(sys.executable))

    @property
    def private_network(self) -> bool:
        """True when each command has a network namespace of its own (bubblewrap without network)."""
        return self.sandbox.name == "bwrap" and not self.network

    def describe(self) -> str:
        """The engine and how it is confined, for logs and chat."""
        confined = "in a bubblewrap sandbox" if self.sandbox.name == "bwrap" else "without a sandbox"
        network = "" if self.network else ", no network"
        return f"{self.engine.describe()}, {confined}{network}"

    def check(self) -> None:
        """Raise :class:`core.terraform.sandbox.SandboxUnavailable` when the sandbox cannot start here."""
        self.sandbox.check()

    def mounts(self, workdir: Path, control: Path) -> list[Mount]:
        """What the sandbox shows: the run's directory (writable), its state directory, engine, cache, runtime."""
        mounts = [Mount(workdir, INSIDE_WORKDIR, writable=True), Mount(control, INSIDE_STATE),
                  Mount(Path(terraform_child.__file__).resolve(), f"{INSIDE_ENGINE}/terraform_child.py"),
                  Mount(self.engine.plugin_cache, INSIDE_PLUGINS), *self.engine.mounts()]
        runtime = Path(sys.base_prefix).resolve()
        if not runtime.is_relative_to("/usr"):
            mounts.append(Mount(runtime, str(runtime)))
        return mounts

    def environment(self, mounts: Sequence[Mount], extra: Mapping[str, str]) -> dict[str, str]:
        """The whole environment of a command: nothing of the bot's own, only what is listed here."""
        inside = {mount.target: self.sandbox.inside(mount) for mount in mounts}
        env = dict(self.passed_env)
        env.update(
            PATH=SANDBOX_PATH, LANG="C.UTF-8",
            HOME=INSIDE_HOME if self.sandbox.name == "bwrap" else inside[INSIDE_STATE],
            TF_IN_AUTOMATION="1", TF_INPUT="0", CHECKPOINT_DISABLE="1",
            TF_CLI_CONFIG_FILE=f"{inside[INSIDE_STATE]}/{CLI_CONFIG_NAME}",
        )
        env.update(self.engine.variables(self.sandbox))
        env.update(extra)
        return env

    def prepare_control(self, control: Path) -> None:
        """Write the CLI configuration into the run's state directory (read-only in the sandbox)."""
        self.engine.plugin_cache.mkdir(parents=True, exist_ok=True)
        plugins = self.sandbox.inside(Mount(self.engine.plugin_cache, INSIDE_PLUGINS))
        (control / CLI_CONFIG_NAME).write_text(cli_config(plugins))

    def inside_path(self, mount_target: str, workdir: Path, control: Path) -> str:
        """Where the command sees one of the run's mounts (by its sandbox target)."""
        for mount in self.mounts(workdir, control):
            if mount.target == mount_target:
                return self.sandbox.inside(mount)
        raise KeyError(mount_target)

    def execute(self, args: Sequence[str], *, workdir: Path, control: Path, timeout: float,
                extra_env: Mapping[str, str] | None = None, cancel: threading.Event | None = None) -> ProcessResult:
        """Run one Terraform command for the run in ``workdir``, killed after ``timeout`` s or on ``cancel``."""
        mounts = self.mounts(workdir, control)
        child = self.sandbox.inside(mounts[2])
        argv = self.sandbox.wrap([self.python, "-I", "-S", child, _json_args(args)], mounts, network=self.network)
        cwd = workdir
        return run_process(argv, cwd=cwd, env=self.environment(mounts, extra_env or {}), timeout=timeout,
                           limit=self.limits.output_bytes, cancel=cancel, preexec=self.sandbox.preexec(self.limits),
                           stop_grace=self.limits.stop_grace_seconds)


def _json_args(args: Sequence[str]) -> str:
    return json.dumps(list(args))


def terraform_for(config: Config, *, engine: Engine | None = None) -> Terraform:
    """How this process runs Terraform, from its configuration (``RAD_SANDBOX``, ``RAD_SANDBOX_NETWORK``...).

    Raises:
        NotConfigured: no engine is available, or the sandbox is asked for but not installed.
    """
    chosen = engine or find_engine(config)
    return Terraform(chosen, make_sandbox(config.sandbox), network=config.sandbox_network,
                     passed_env=passed_environment(config.terraform_env))


def unsandboxed(engine: Engine, *, network: bool = True) -> Terraform:
    """``RAD_SANDBOX=off`` for ``engine`` (tests of the runner's own logic, and trusted hosts)."""
    return Terraform(engine, NoSandbox(), network=network)


__all__ = ["Terraform", "cli_config", "passed_environment", "plugin_cache_dir", "terraform_for", "unsandboxed"]
