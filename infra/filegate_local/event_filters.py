"""Lambda event filtering (an event source mapping's `FilterCriteria`), the subset the local stack needs.

A pattern is a JSON object whose keys name fields of the record: an object value descends into the field, a
list value holds matchers of which one must match (if the record's field is a list, one element must).
Every key of a pattern must match; a mapping's record passes when any of its patterns matches.

Matchers: literal values (a string, number, boolean or null, matched exactly), and the objects
`{"prefix": s}`, `{"suffix": s}`, `{"equals-ignore-case": s}`, `{"anything-but": value or [values]}`,
`{"exists": bool}` and `{"numeric": [op, n, (op, n)]}`. A template using other operators (`$or`,
`wildcard`, `cidr`, ...) gets a clear error at start rather than a filter that silently differs.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping, Sequence
from typing import Any

_MISSING = object()
_NUMERIC: dict[str, Callable[[float, float], bool]] = {
    "=": operator.eq,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_OPERATORS = {"prefix", "suffix", "equals-ignore-case", "anything-but", "exists", "numeric"}


class FilterError(ValueError):
    """A pattern the local stack cannot evaluate (or that Lambda would refuse)."""


def validate_pattern(pattern: Any) -> None:
    """Refuse what `matches` cannot evaluate, when the template is read rather than when records come."""
    if not isinstance(pattern, Mapping) or not pattern:
        raise FilterError("a pattern is a non-empty JSON object")
    for key, value in pattern.items():
        if key.startswith("$"):
            raise FilterError(f"{key} is not emulated locally")
        if isinstance(value, Mapping):
            validate_pattern(value)
        elif isinstance(value, list) and value:
            for matcher in value:
                _validate_matcher(key, matcher)
        else:
            raise FilterError(f"{key}: expected an object or a non-empty list of matchers")


def _validate_matcher(key: str, matcher: Any) -> None:
    if not isinstance(matcher, Mapping):
        return  # a literal
    if len(matcher) != 1 or next(iter(matcher)) not in _OPERATORS:
        raise FilterError(f"{key}: matcher {matcher!r} is not emulated locally")
    ((name, argument),) = matcher.items()
    if name == "numeric":
        if not isinstance(argument, list) or len(argument) not in (2, 4):
            raise FilterError(f"{key}: numeric takes [op, n] or [op, n, op, n]")
        for op, bound in zip(argument[::2], argument[1::2], strict=True):
            if op not in _NUMERIC or not _is_number(bound):
                raise FilterError(f"{key}: numeric {op!r} {bound!r}")
    elif name == "exists" and not isinstance(argument, bool):
        raise FilterError(f"{key}: exists takes true or false")
    elif name in ("prefix", "suffix", "equals-ignore-case") and not isinstance(argument, str):
        raise FilterError(f"{key}: {name} takes a string")


def passes(filters: Sequence[Mapping[str, Any]], record: Mapping[str, Any]) -> bool:
    """Whether a mapping with these patterns hands the record to its function (no patterns: every record)."""
    return not filters or any(matches(pattern, record) for pattern in filters)


def matches(pattern: Mapping[str, Any], event: Any) -> bool:
    # Below a missing (or non-object) field every field is missing: only {"exists": false} matches there.
    fields: Mapping[str, Any] = event if isinstance(event, Mapping) else {}
    for key, expected in pattern.items():
        value = fields.get(key, _MISSING)
        if isinstance(expected, Mapping):
            if not matches(expected, value):
                return False
        elif not any(_matcher_matches(m, value) for m in expected):
            return False
    return True


def _matcher_matches(matcher: Any, value: Any) -> bool:
    if isinstance(matcher, Mapping) and next(iter(matcher)) == "exists":
        return (value is not _MISSING) is matcher["exists"]
    if value is _MISSING:
        return False
    if isinstance(value, list):
        return any(_matcher_matches(matcher, element) for element in value)
    if not isinstance(matcher, Mapping):
        return _equal(matcher, value)
    ((name, argument),) = matcher.items()
    if name == "prefix":
        return isinstance(value, str) and value.startswith(argument)
    if name == "suffix":
        return isinstance(value, str) and value.endswith(argument)
    if name == "equals-ignore-case":
        return isinstance(value, str) and value.casefold() == argument.casefold()
    if name == "anything-but":
        excluded = argument if isinstance(argument, list) else [argument]
        return not any(_equal(e, value) for e in excluded)
    if name == "numeric":
        return _is_number(value) and all(
            _NUMERIC[op](float(value), float(bound)) for op, bound in zip(argument[::2], argument[1::2], strict=True)
        )
    return False


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _equal(expected: Any, value: Any) -> bool:
    """JSON equality: 5 matches 5.0, but not "5" nor true."""
    if _is_number(expected) and _is_number(value):
        return float(expected) == float(value)
    return type(expected) is type(value) and bool(expected == value)
