"""Platform-neutral commands, actions, forms and thread handlers, and the neutral UI model."""

from __future__ import annotations

import importlib

from commands.registry import REGISTRY, Registry

HANDLER_MODULES = (
    "commands.help", "commands.account", "commands.profile", "commands.admin", "commands.connect",
    "commands.publish", "commands.modules", "commands.deploy", "commands.deployments", "commands.credits",
    "commands.notify",
)


def load_registry() -> Registry:
    """The shared registry with every built-in handler module imported (and so registered)."""
    for name in HANDLER_MODULES:
        importlib.import_module(name)
    return REGISTRY
