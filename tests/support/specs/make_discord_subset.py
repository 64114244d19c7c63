"""Write the part of Discord's OpenAPI description the tests use: ``discord-openapi.subset.json``.

Run: ``python tests/specs/make_discord_subset.py <path to discord-openapi.json>``. Every path is kept (tests
check that each request the bot sends is a route Discord has), each operation with its JSON request body only,
plus the component schemas named in :data:`SCHEMAS` and everything those bodies and schemas refer to.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

SCHEMAS = ("ApplicationCommandCreateRequest", "ApplicationCommandAutocompleteCallbackRequest",
           "MessageCreateRequest", "ModalInteractionCallbackRequest")
OUT = Path(__file__).resolve().parent / "discord-openapi.subset.json"


def refs(node: Any) -> set[str]:
    """Every ``$ref`` inside ``node``."""
    if isinstance(node, dict):
        found = {node["$ref"]} if isinstance(node.get("$ref"), str) else set()
        return found.union(*(refs(value) for value in node.values()))
    if isinstance(node, list):
        return set().union(*(refs(value) for value in node))
    return set()


def resolve(spec: dict[str, Any], ref: str) -> Any:
    node: Any = spec
    for part in ref.removeprefix("#/").split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def subset(spec: dict[str, Any]) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for template, item in spec["paths"].items():
        kept = {}
        for method, operation in item.items():
            if not isinstance(operation, dict):
                continue
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            kept[method] = {"requestBody": {"content": {"application/json": body}}} if body else {}
        paths[template] = kept
    wanted = refs(paths) | {f"#/components/schemas/{name}" for name in SCHEMAS}
    done: set[str] = set()
    while wanted - done:
        ref = sorted(wanted - done)[0]
        done.add(ref)
        wanted |= refs(resolve(spec, ref))
    components: dict[str, dict[str, Any]] = {}
    for ref in sorted(done):
        _, _, kind, name = ref.split("/", 3)
        components.setdefault(kind, {})[name] = resolve(spec, ref)
    return {"openapi": spec["openapi"], "info": spec["info"], "paths": paths, "components": components}


if __name__ == "__main__":
    full = json.loads(Path(sys.argv[1]).read_text())
    OUT.write_text(json.dumps(subset(full), indent=1, sort_keys=True) + "\n")
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")
