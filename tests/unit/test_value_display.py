"""Values and counts as people read them: HCL/JSON, never Python reprs; ``1 credit``, ``2 credits``."""

from __future__ import annotations

from decimal import Decimal

import pytest

from core.credits.amounts import credit_count
from core.hcl.display import hcl_value
from core.modules.inputs import MASK, default_shown, example, form_text, shown
from core.modules.model import Variable
from core.wording import count, plural


@pytest.mark.parametrize(("value", "written"), [
    ("rad-data", '"rad-data"'),
    ("", '""'),
    ('say "hi"\\now', '"say \\"hi\\"\\\\now"'),
    ("two\nlines\ttab", '"two\\nlines\\ttab"'),
    ("\x07bell", '"\\u0007bell"'),
    (True, "true"),
    (False, "false"),
    (None, "null"),
    (90, "90"),
    (-3, "-3"),
    (1.5, "1.5"),
    (2.0, "2"),
    (1e20, "100000000000000000000"),
    (Decimal("12.500"), "12.5"),
    (Decimal("1E+3"), "1000"),
    ([], "[]"),
    (["a", "b"], '["a", "b"]'),
    ((1, True, None), "[1, true, null]"),
    ({}, "{}"),
    ({"age_days": 90}, "{ age_days = 90 }"),
    ({"name": "logs", "tags": ["x"], "nested": {"on": False}},
     '{ name = "logs", tags = ["x"], nested = { on = false } }'),
    ({"my key": 1, "9lives": 2}, '{ "my key" = 1, "9lives" = 2 }'),
])
def test_values_are_written_as_hcl(value: object, written: str) -> None:
    assert hcl_value(value) == written


def test_unicode_is_shown_as_text_not_escaped() -> None:
    assert hcl_value("café ☕ 東京") == '"café ☕ 東京"'
    assert hcl_value({"città": "Zürich"}) == '{ "città" = "Zürich" }'  # a non-ASCII key is quoted, kept as text
    assert form_text({"città": "Zürich"}) == '{"città": "Zürich"}'  # what a form pre-fills is JSON it reads back


def test_no_python_repr_leaks() -> None:
    for value in ("x", True, None, {"a": "b"}, ["c"], Decimal("1.10")):
        written = hcl_value(value)
        assert "'" not in written and "True" not in written and "None" not in written and "Decimal" not in written


def test_a_confirmation_masks_sensitive_values_and_quotes_the_rest() -> None:
    plain = Variable(name="bucket", type="string")
    secret = Variable(name="token", type="string", sensitive=True)
    assert shown(plain, "rad-data") == '"rad-data"' and shown(secret, "hunter2") == MASK


@pytest.mark.parametrize(("amount", "kind", "written"), [
    (Decimal(1), "", "1 credit"),
    (Decimal(2), "", "2 credits"),
    (Decimal(0), "", "0 credits"),
    (Decimal("1.5"), "", "1.5 credits"),
    (Decimal("1.0000"), "", "1 credit"),
    (Decimal(1250), "", "1,250 credits"),
    (Decimal(1), "purchased", "1 purchased credit"),
    (Decimal("9.5"), "purchased", "9.5 purchased credits"),
])
def test_credit_counts_agree(amount: Decimal, kind: str, written: str) -> None:
    assert credit_count(amount, kind) == written


def test_counts_agree() -> None:
    assert [count(n, "module") for n in (0, 1, 2)] == ["0 modules", "1 module", "2 modules"]
    assert count(1, "file") == "1 file" and count(1200, "file") == "1,200 files"
    assert count(2, "API call") == "2 API calls" and count(1, "API call") == "1 API call"
    assert count(3, "deployment") == "3 deployments" and count(2, "repository") == "2 repositories"
    assert plural("is", 2) == "are" and plural("is", 1) == "is" and count(2, "person") == "2 people"
    assert count(2, "match") == "2 matches" and count(5, "day") == "5 days"


def test_form_defaults_and_examples_keep_unicode_as_text() -> None:
    tags = Variable(name="tags", type="map(string)", has_default=True, default={"city": "Zürich"})
    assert default_shown(tags) == '{"city": "Zürich"}' and example(tags) == '{"city": "Zürich"}'
