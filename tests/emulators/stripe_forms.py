"""Stripe's request encoding: form fields in bracket notation (``line_items[0][price_data][currency]=usd``).

``decode`` turns a form body into nested dicts and lists; ``sign`` makes the ``Stripe-Signature`` header
Stripe sends with each webhook (``t=<unix time>,v1=<HMAC-SHA256 of "<t>.<body>" with the endpoint secret>``).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from typing import Any
from urllib.parse import parse_qsl

_PART = re.compile(r"\[([^\]]*)\]")


def decode(body: str) -> dict[str, Any]:
    """A form-encoded body as nested values: ``a[b][0][c]=1`` is ``{"a": {"b": [{"c": "1"}]}}``."""
    root: dict[str, Any] = {}
    for name, value in parse_qsl(body, keep_blank_values=True):
        head = name.split("[", 1)[0]
        keys: list[str] = [head, *_PART.findall(name[len(head):])]
        node: Any = root
        for index, key in enumerate(keys):
            last = index == len(keys) - 1
            following = keys[index + 1] if not last else ""
            child_kind: Any = list if following.isdigit() or following == "" else dict
            if isinstance(node, list):
                position = int(key) if key.isdigit() else len(node)
                while len(node) <= position:
                    node.append(None)
                if last:
                    node[position] = value
                else:
                    if node[position] is None:
                        node[position] = child_kind()
                    node = node[position]
            else:
                if last:
                    node[key] = value
                else:
                    node = node.setdefault(key, child_kind())
    return root


def sign(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    """The ``Stripe-Signature`` header for ``payload``: ``t=...,v1=...`` (HMAC-SHA256, the v1 scheme)."""
    at = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{at}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={at},v1={digest}"
