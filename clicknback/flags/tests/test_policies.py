"""Pure rules of feature flags: key format (R-162), scope identity (R-163), resolution (R-160)."""

import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clicknback.errors import ValidationFailed
from clicknback.flags import policies
from clicknback.flags.exceptions import FeatureFlagScopeIdRequired


@pytest.mark.parametrize("key", ["a", "purchase_auto_confirm", "a1_b2", "x" * 100, "z_"])
def test_key_rule_accepts_lowercase_keys_of_1_to_100_chars_r162(key):
    assert policies.key_problem(key) is None


@pytest.mark.parametrize(
    "key",
    ["", "x" * 101, "Purchase", "ABC", "1abc", "_abc", "a-b", "a b", "a.b", "abc\n", "\nabc", "é", "a\x00", None, 5],
)
def test_key_rule_refuses_anything_else_r162(key):
    assert policies.key_problem(key)


@given(st.text(max_size=120))
def test_key_rule_agrees_with_the_spec_regex_on_any_text_r162(text):
    import re

    expected = 1 <= len(text) <= 100 and re.fullmatch(r"[a-z][a-z0-9_]*", text) is not None
    assert (policies.key_problem(text) is None) is expected


@pytest.mark.parametrize(
    ("scoped", "global_", "expected"),
    [
        (None, None, True),  # fail-open
        (None, True, True),
        (None, False, False),
        (True, False, True),  # a scoped record overrides the global one
        (False, True, False),
        (True, None, True),
        (False, None, False),
    ],
)
def test_resolution_scoped_then_global_then_true_r160(scoped, global_, expected):
    assert policies.resolve(scoped=scoped, global_=global_) is expected


def test_scope_rules_r163():
    policies.ensure_scope("global", None)
    policies.ensure_scope("user", uuid.uuid4())
    with pytest.raises(ValidationFailed) as global_with_id:
        policies.ensure_scope("global", uuid.uuid4())
    assert [v["field"] for v in global_with_id.value.details["violations"]] == ["scope_id"]
    with pytest.raises(FeatureFlagScopeIdRequired) as missing:
        policies.ensure_scope("merchant", None)
    assert (missing.value.status, missing.value.details) == (422, {"scope_type": "merchant"})
    with pytest.raises(ValidationFailed):
        policies.ensure_scope("tenant", uuid.uuid4())
