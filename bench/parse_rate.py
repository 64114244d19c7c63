"""Parse-rate benchmark on generated typical modules (3 files, 10 variables), for ``bench/scan.py``."""

from __future__ import annotations

import time

import hcl2

from core.modules.parser import ModuleSpec, parse_module

_VARIABLE = '''
variable "{name}" {{
  description = "{text} {{{{UIMeta group={group} order={order}}}}}"
  type        = {type}
  default     = {default}
}}
'''
_CHOICE = '''
variable "region_{i}" {{
  description = "Where it runs {{{{UIMeta group=1 order=1}}}}"
  type        = string
  default     = "europe-west1"
  validation {{
    condition     = contains(["europe-west1", "us-central1", "asia-east1"], var.region_{i})
    error_message = "Pick a supported region."
  }}
}}
'''
_MAIN = '''locals {{
  prefix  = "${{var.name_{i}}}-${{var.region_{i}}}"
  labels  = merge(var.labels_{i}, {{ module = "generated-{i}" }})
  enabled = var.enabled_{i} && length(var.zones_{i}) > 0
  sizes   = [for zone in var.zones_{i} : upper(zone)]
}}
'''
_OUTPUTS = '''output "prefix" {{
  description = "The name prefix of module {i}"
  value       = local.prefix
}}

output "labels" {{
  value = local.labels
}}

output "token" {{
  value     = var.token_{i}
  sensitive = true
}}
'''


def typical_module(i: int) -> dict[str, bytes]:
    """The files of generated module ``i``: metadata, nine inputs of every kind, locals and outputs."""
    specs = [
        ("module_description", "What it is", 0, 1, "string", f'"Generated module number {i}"'),
        ("credit_cost", "Credits per deployment", 0, 2, "number", str(10 + i % 90)),
        ("public_access", "Visible to all", 0, 3, "bool", "true"),
        (f"name_{i}", "A name", 1, 2, "string", f'"app-{i}"'),
        (f"enabled_{i}", "Turn it on", 1, 3, "bool", "false"),
        (f"size_{i}", "How many", 2, 1, "number", str(i % 7 + 1)),
        (f"zones_{i}", "Zones", 2, 2, "list(string)", '["a", "b"]'),
        (f"labels_{i}", "Labels", 2, 3, "map(string)", '{ team = "core", env = "dev" }'),
        (f"token_{i}", "A secret", 2, 4, "string", '""'),
    ]
    variables = "".join(
        _VARIABLE.format(name=name, text=text, group=group, order=order, type=type_, default=default)
        for name, text, group, order, type_, default in specs
    ) + _CHOICE.format(i=i)
    return {
        "variables.tf": variables.encode(),
        "main.tf": _MAIN.format(i=i).encode(),
        "outputs.tf": _OUTPUTS.format(i=i).encode(),
    }


def bench_parse(n: int, *, reference: bool = False) -> float:
    """Modules parsed (and turned to JSON) per second over ``n`` generated modules; generation is not timed.

    With ``reference``, the same files go through python-hcl2's own ``hcl2.loads`` instead, to compare.
    """
    modules = [typical_module(i) for i in range(n)]
    started = time.perf_counter()
    for i, files in enumerate(modules):
        if reference:
            for content in files.values():
                hcl2.loads(content.decode())
        else:
            result = parse_module(f"module-{i}", files)
            if not isinstance(result, ModuleSpec):
                raise AssertionError(f"generated module {i} did not parse: {result}")
            result.to_json()  # as the scanner stores it (this also reads each input's kind and choices)
    return n / (time.perf_counter() - started)
