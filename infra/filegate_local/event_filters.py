"""Lambda event filtering (a stream mapping's `FilterCriteria`) as far as template.yaml uses it: exact strings.
A pattern's keys name fields of the record: an object descends into the field, a list holds the strings one of
which the field (or an element of it) must be. Lambda's operators are refused when the template is read.
"""

from collections.abc import Mapping, Sequence
from typing import Any


class FilterError(ValueError):
    pass


def validate_pattern(pattern: Any) -> None:
    if not isinstance(pattern, Mapping) or not pattern:
        raise FilterError("a pattern is a non-empty JSON object")
    for key, value in pattern.items():
        if isinstance(value, Mapping):
            validate_pattern(value)
        elif not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
            raise FilterError(f"{key}: only exact values (a non-empty list of strings) are emulated locally")


def passes(filters: Sequence[Mapping[str, Any]], record: Mapping[str, Any]) -> bool:
    return not filters or any(matches(pattern, record) for pattern in filters)


def matches(pattern: Mapping[str, Any], event: Any) -> bool:
    fields = event if isinstance(event, Mapping) else {}
    return all(key in fields and _holds(expected, fields[key]) for key, expected in pattern.items())


def _holds(expected: Any, value: Any) -> bool:
    if isinstance(expected, Mapping):
        return matches(expected, value)
    return any(v in expected for v in (value if isinstance(value, list) else [value]))
