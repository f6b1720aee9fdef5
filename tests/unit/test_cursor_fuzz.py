"""Cursors fuzzed (docs/api.md §4: a malformed or foreign cursor is 400 naming `cursor`): whatever a client sends,
decoding gives exactly a start key of the listing's shape for the caller's account, or BadCursor, never
another exception that would become a 500. Seeded, so every run tries the same cursors."""

from __future__ import annotations

import base64
import json
import random
import string
from typing import Any

import pytest

from filegate.db.pages import BadCursor, decode_cursor, encode_cursor

ACCOUNT = "acct_mine"
# The shape of the keys listing's start key (table key + index key), as key_shape derives it.
SHAPE = {"account_id": "S", "created_at": "S", "key_id": "S"}
VALID = {"account_id": {"S": ACCOUNT}, "created_at": {"S": "2026-12-07T10:00:00Z"}, "key_id": {"S": "key_1"}}
ROUNDS = 3000


def _json_value(rng: random.Random, depth: int = 0) -> Any:
    kinds = ["str", "int", "float", "bool", "none"] + (["list", "dict"] if depth < 3 else [])
    kind = rng.choice(kinds)
    if kind == "str":
        return "".join(rng.choice(string.printable + "\u00e9\U0001f511") for _ in range(rng.randint(0, 12)))
    if kind == "int":
        return rng.randint(-(2**70), 2**70)
    if kind == "float":
        return rng.choice([0.5, -1e308, float("inf"), float("nan")])
    if kind == "bool":
        return rng.random() < 0.5
    if kind == "none":
        return None
    if kind == "list":
        return [_json_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    names = [*SHAPE, "S", "N", "x", ""]
    return {rng.choice(names): _json_value(rng, depth + 1) for _ in range(rng.randint(0, 4))}


def _near_valid(rng: random.Random) -> Any:
    """The valid start key with one or two things changed: the forgeries most likely to slip through."""
    forged: dict[Any, Any] = json.loads(json.dumps(VALID))
    for _ in range(rng.randint(1, 2)):
        name = rng.choice(list(SHAPE))
        change = rng.choice(["drop", "add", "type", "value", "extra_type", "whole"])
        if change == "drop":
            forged.pop(name, None)
        elif change == "add":
            forged[rng.choice(["extra", "file_id", "S"])] = {"S": "x"}
        elif change == "type":
            forged[name] = {rng.choice(["N", "B", "SS", "L", "M", "BOOL"]): "1"}
        elif change == "value":
            forged[name] = {"S": _json_value(rng)}
        elif change == "extra_type":
            forged[name] = {"S": "x", "N": "1"}
        else:
            forged[name] = _json_value(rng)
    return forged


def _encoded(value: Any) -> str:
    text = json.dumps(value, allow_nan=True, default=str)
    return base64.urlsafe_b64encode(text.encode()).decode()


def _cursors(rng: random.Random) -> list[str]:
    out: list[str] = []
    for _ in range(ROUNDS):
        kind = rng.randrange(4)
        if kind == 0:
            out.append(_encoded(_near_valid(rng)))
        elif kind == 1:
            out.append(_encoded(_json_value(rng)))
        elif kind == 2:
            out.append(base64.urlsafe_b64encode(rng.randbytes(rng.randint(0, 64))).decode())
        else:
            out.append("".join(rng.choice(string.printable) for _ in range(rng.randint(1, 40))))
    return out


def _is_the_listings_start_key(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and set(value) == set(SHAPE)
        and value["account_id"] == {"S": ACCOUNT}
        and all(set(value[name]) == {kind} and isinstance(value[name][kind], str) for name, kind in SHAPE.items())
    )


def test_a_cursor_the_listing_issued_is_a_position() -> None:
    assert decode_cursor(encode_cursor(VALID), "account_id", ACCOUNT, SHAPE) == VALID


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_every_fuzzed_cursor_is_a_start_key_of_the_listing_or_bad_cursor(seed: int) -> None:
    refused = 0
    for cursor in _cursors(random.Random(seed)):
        try:
            decoded = decode_cursor(cursor, "account_id", ACCOUNT, SHAPE)
        except BadCursor as exc:
            assert str(exc) == "cursor"  # the 400 names `cursor`
            refused += 1
            continue
        assert _is_the_listings_start_key(decoded), (cursor, decoded)
    assert refused > ROUNDS * 0.9  # the fuzz mostly forges: almost nothing it makes is a real position


def test_another_accounts_cursor_is_refused() -> None:
    foreign = {**VALID, "account_id": {"S": "acct_someone_else"}}
    with pytest.raises(BadCursor):
        decode_cursor(encode_cursor(foreign), "account_id", ACCOUNT, SHAPE)
