"""Where a Terraform command runs: inside a bubblewrap sandbox (``RAD_SANDBOX=bwrap``), or on the host (``off``).

A module is untrusted code. In the sandbox it runs as an unprivileged user in new user, PID, IPC, UTS, cgroup
and mount namespaces (and a network namespace of its own when ``RAD_SANDBOX_NETWORK`` is off). It sees the
system directories read-only, the engine read-only, the run's working directory (the only writable place),
the shared provider cache read-only, and the Unix socket of its own state backend; nothing else of the host:
no data directory, no other runs, no database, no ``/proc`` of the bot, no home directory. It dies with the
worker. Resource limits (CPU time, address space, open files, file size) are set on the process before it
starts, for both modes.
"""

from __future__ import annotations

import ctypes
import functools
import os
import resource
import shutil
import signal
import subprocess
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from core.errors import NotConfigured

__all__ = [
    "INSIDE_ENGINE", "INSIDE_HOME", "INSIDE_PLUGINS", "INSIDE_STATE", "INSIDE_WORKDIR", "Bubblewrap", "Limits",
    "Mount", "NoSandbox", "Sandbox", "SandboxUnavailable", "make_sandbox",
]

INSIDE_WORKDIR = "/rad/run"
INSIDE_ENGINE = "/rad/engine"
INSIDE_PLUGINS = "/rad/plugins"
INSIDE_STATE = "/rad/state"
INSIDE_HOME = "/rad/home"
SANDBOX_UID = 65534
PROBE_TIMEOUT = 10.0

_SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
_SYSTEM_FILES = ("/etc/ssl", "/etc/ca-certificates", "/etc/pki", "/etc/resolv.conf", "/etc/hosts",
                 "/etc/nsswitch.conf", "/etc/localtime", "/etc/ld.so.cache", "/etc/alternatives")


class SandboxUnavailable(NotConfigured):
    """The sandbox cannot start on this host; the run fails rather than run unsandboxed."""


@dataclass(frozen=True)
class Limits:
    """Resource limits of one Terraform command (and of everything it starts)."""

    cpu_seconds: int = 3600
    memory_bytes: int = 8 * 1024**3
    open_files: int = 4096
    file_bytes: int = 1024**3
    output_bytes: int = 4 * 1024**2
    """How much of a command's standard output (and, separately, its error output) the bot reads."""
    stop_grace_seconds: float = 30.0
    """How long a command asked to stop (timeout, lost lease) may take to write its state before it is killed."""

    def apply(self) -> None:
        """Set these limits on the current process (called in the child between fork and exec)."""
        for which, value in ((resource.RLIMIT_CPU, self.cpu_seconds), (resource.RLIMIT_AS, self.memory_bytes),
                             (resource.RLIMIT_NOFILE, self.open_files), (resource.RLIMIT_FSIZE, self.file_bytes),
                             (resource.RLIMIT_CORE, 0)):
            _, hard = resource.getrlimit(which)
            value = value if hard == resource.RLIM_INFINITY else min(value, hard)
            resource.setrlimit(which, (value, value if hard == resource.RLIM_INFINITY else hard))


@dataclass(frozen=True)
class Mount:
    """A host path shown inside the sandbox at ``target`` (read-only unless ``writable``)."""

    source: Path
    target: str
    writable: bool = False


class Sandbox(ABC):
    """Turns a command into the process that runs it confined."""

    name: str

    @abstractmethod
    def inside(self, mount: Mount) -> str:
        """Where the command sees ``mount``'s source."""

    @abstractmethod
    def wrap(self, argv: Sequence[str], mounts: Sequence[Mount], *, network: bool) -> list[str]:
        """The process to start for ``argv`` (whose paths are already inside paths) with ``mounts``."""

    def check(self) -> None:  # noqa: B027 - most sandboxes can always start
        """Raise :class:`SandboxUnavailable` when this sandbox cannot start here."""

    def preexec(self, limits: Limits) -> Callable[[], None]:
        """What runs in the child before exec: the limits, and death with the worker."""
        return functools.partial(_confine, limits)


def _confine(limits: Limits) -> None:
    limits.apply()
    _die_with_parent()


@functools.cache
def _libc() -> ctypes.CDLL | None:
    try:
        return ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None


_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """Ask the kernel to SIGKILL this process when the thread that started it (the worker) dies."""
    libc = _libc()
    if libc is not None:
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


class NoSandbox(Sandbox):
    """``RAD_SANDBOX=off``: the command runs on the host as the bot's user (for trusted module authors only)."""

    name = "off"

    def inside(self, mount: Mount) -> str:
        """The mount's source: without a sandbox the command sees host paths."""
        return str(mount.source)

    def wrap(self, argv: Sequence[str], mounts: Sequence[Mount], *, network: bool) -> list[str]:
        """``argv`` unchanged; without a sandbox there is nothing to mount and no network to cut."""
        return list(argv)


@dataclass(frozen=True)
class Bubblewrap(Sandbox):
    """bubblewrap (``bwrap``): namespaces, an unprivileged uid, read-only system, one writable directory."""

    executable: str
    name = "bwrap"

    def inside(self, mount: Mount) -> str:
        """The mount's target, where the sandbox binds its source."""
        return mount.target

    def wrap(self, argv: Sequence[str], mounts: Sequence[Mount], *, network: bool) -> list[str]:
        """The ``bwrap`` command that runs ``argv`` with ``mounts`` bound in, off the network unless ``network``."""
        args = [self.executable, "--unshare-user", "--unshare-pid", "--unshare-ipc", "--unshare-uts",
                "--unshare-cgroup-try", "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID),
                "--hostname", "rad-sandbox", "--die-with-parent", "--new-session", "--cap-drop", "ALL"]
        if not network:
            args.append("--unshare-net")
        args += _system_binds()
        args += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--dir", "/rad", "--tmpfs", INSIDE_HOME]
        for mount in mounts:
            kind = "--bind" if mount.writable else "--ro-bind"
            args += [kind, str(mount.source), mount.target]
        args += ["--chdir", INSIDE_WORKDIR, "--", *argv]
        return args

    def check(self) -> None:
        """Start an empty sandbox once (the answer is cached); raise :class:`SandboxUnavailable` when it fails."""
        _probe(self.executable)


def _system_binds() -> list[str]:
    """The host's system directories, read-only (symlinks such as ``/lib -> usr/lib`` kept as symlinks)."""
    args: list[str] = []
    for path in _SYSTEM_DIRS:
        if os.path.islink(path):
            args += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            args += ["--ro-bind", path, path]
    for path in _SYSTEM_FILES:
        if os.path.exists(path):
            args += ["--ro-bind", path, path]
    return args


@functools.lru_cache(maxsize=4)
def _probe_cached(executable: str) -> str:
    """Start an empty sandbox once; an empty string when it works, else why not."""
    with tempfile.TemporaryDirectory(prefix="rad-sandbox-probe-") as workdir:
        argv = Bubblewrap(executable).wrap(["/bin/true"], [Mount(Path(workdir), INSIDE_WORKDIR, writable=True)],
                                           network=False)
        try:
            done = subprocess.run(argv, capture_output=True, timeout=PROBE_TIMEOUT, check=False)
        except (OSError, subprocess.TimeoutExpired) as error:
            return str(error)
    if done.returncode == 0:
        return ""
    return done.stderr.decode("utf-8", "replace").strip() or f"bwrap exited with {done.returncode}"


def _probe(executable: str) -> None:
    why = _probe_cached(executable)
    if why:
        raise SandboxUnavailable(
            f"The Terraform sandbox (bubblewrap) cannot start on this host: {why}",
            hint="Allow unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1 or "
                 "user.max_user_namespaces > 0), or set RAD_SANDBOX=off only if every module author is trusted.",
        )


def make_sandbox(mode: str, *, search_path: str | None = None) -> Sandbox:
    """The sandbox for ``RAD_SANDBOX``.

    Raises:
        SandboxUnavailable: ``bwrap`` is asked for but not installed.
    """
    if mode == "off":
        return NoSandbox()
    found = shutil.which("bwrap", path=search_path)
    if found is None:
        raise SandboxUnavailable(
            "RAD_SANDBOX is bwrap, but bubblewrap (`bwrap`) is not installed, so no Terraform command can run.",
            hint="Install it (Debian: apt-get install bubblewrap), or set RAD_SANDBOX=off only if every module "
                 "author is trusted.",
        )
    return Bubblewrap(found)
