"""Platform-neutral commands, actions, forms and thread handlers, and the neutral UI model.

``framework/`` is the registry, context, dispatcher and parsing; ``ui/`` the neutral UI model; ``views/`` the
replies shared by handlers and background work; ``handlers/`` the commands themselves, found by
:func:`load_registry` without a hand-kept list.
"""

from __future__ import annotations

import importlib
import pkgutil

from commands import handlers
from commands.framework.registry import REGISTRY, Registry


def handler_modules() -> list[str]:
    """Every module of ``commands.handlers``, in name order."""
    return sorted(info.name for info in pkgutil.iter_modules(handlers.__path__, f"{handlers.__name__}."))


def load_registry() -> Registry:
    """The shared registry with every handler module imported (and so registered)."""
    for name in handler_modules():
        importlib.import_module(name)
    return REGISTRY
