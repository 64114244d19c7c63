"""The repository the front-door publish tests connect: 20 module folders, one of which does not parse."""

from __future__ import annotations

BROKEN = "mod-03"


def module_files(name: str, cost: int) -> dict[str, str]:
    """A valid module: metadata variables, a required input, an output."""
    return {
        f"{name}/variables.tf": (f'variable "module_description" {{\n  default = "The {name} module"\n}}\n'
                                 f'variable "credit_cost" {{\n  default = {cost}\n}}\n'
                                 'variable "size" {\n  type = number\n}\n'),
        f"{name}/outputs.tf": 'output "size" {\n  value = var.size\n}\n',
    }


def repository_files() -> dict[str, str]:
    """20 module folders; ``mod-03`` does not parse (line 2 of its main.tf)."""
    files = {"README.md": "# Pat's modules\n", f"{BROKEN}/main.tf": 'variable "x" {\n  type = \n'}
    for n in range(20):
        if f"mod-{n:02}" != BROKEN:
            files.update(module_files(f"mod-{n:02}", n))
    return files
