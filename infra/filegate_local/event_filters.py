"""Lambda event filtering (a stream mapping's `FilterCriteria`), as far as template.yaml uses it: exact values.

A pattern is a JSON object whose keys name fields of the record: an object value descends into the field, a
list value holds the values one of which the field must equal (JSON equality: 5 is 5.0, not "5" nor true).
Every key must match; a record passes when any of the mapping's patterns matches. Lambda's operators
(`prefix`, `anything-but`, `numeric`, `$or`...) are refused when the template is read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


class FilterError(ValueError):
    """A pattern the local stack does not evaluate."""


def validate_pattern(pattern: Any) -> None:
    if not isinstance(pattern, Mapping) or not pattern:
        raise FilterError("a pattern is a non-empty JSON object")
    for key, value in pattern.items():
        if isinstance(value, Mapping):
            validate_pattern(value)
        elif not isinstance(value, list) or not value or any(isinstance(v, Mapping | list) for v in value):
            raise FilterError(f"{key}: only exact values (a non-empty list of them) are emulated locally")


def passes(filters: Sequence[Mapping[str, Any]], record: Mapping[str, Any]) -> bool:
    """Whether a mapping with these patterns hands the record to its function (no patterns: every record)."""
    return not filters or any(matches(pattern, record) for pattern in filters)


def matches(pattern: Mapping[str, Any], event: Any) -> bool:
    fields: Mapping[str, Any] = event if isinstance(event, Mapping) else {}
    for key, expected in pattern.items():
        if key not in fields:
            return False
        value = fields[key]
        if isinstance(expected, Mapping):
            if not matches(expected, value):
                return False
        elif not any(_equal(e, v) for e in expected for v in (value if isinstance(value, list) else [value])):
            return False
    return True


def _equal(expected: Any, value: Any) -> bool:
    if all(isinstance(x, int | float) and not isinstance(x, bool) for x in (expected, value)):
        return float(expected) == float(value)
    return type(expected) is type(value) and bool(expected == value)
