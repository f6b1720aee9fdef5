import base64
import re

import pytest

from filegate.keys import keyformat


def test_generated_keys_have_the_documented_shape():
    for mode, prefix in (("live", "fg_live_"), ("test", "fg_test_")):
        key = keyformat.generate(mode)
        assert key.startswith(prefix)
        assert re.fullmatch(r"fg_(live|test)_[a-z2-7]{32}[a-z2-7]{7}", key)
        assert keyformat.is_well_formed(key)
        assert keyformat.mode_of(key) == mode


def test_keys_are_unique_and_random():
    keys = {keyformat.generate() for _ in range(2000)}
    assert len(keys) == 2000


def test_checksum_is_crc32_in_zero_padded_base32():
    import zlib

    head = "fg_live_" + "a" * 32
    crc = zlib.crc32(head.encode())
    expected = "".join("abcdefghijklmnopqrstuvwxyz234567"[(crc >> (5 * i)) & 31] for i in reversed(range(7)))
    assert keyformat.checksum(head) == expected
    assert keyformat.is_well_formed(head + expected)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda k: k[:-1] + ("a" if k[-1] != "a" else "b"),  # checksum digit
        lambda k: k[:10] + ("a" if k[10] != "a" else "b") + k[11:],  # body digit
        lambda k: k.upper(),
        lambda k: k[:-1],
        lambda k: k + "a",
        lambda k: k.replace("fg_live_", "fg_prod_"),
        lambda k: k[:12] + "1" + k[13:],  # outside the alphabet
        lambda k: "",
    ],
)
def test_any_damage_is_caught_by_shape_or_checksum(mutate):
    assert not keyformat.is_well_formed(mutate(keyformat.generate()))


def test_digest_prefix_and_id():
    key = keyformat.generate()
    digest = keyformat.digest(key)
    assert re.fullmatch(r"[0-9a-f]{64}", digest)
    assert keyformat.display_prefix(key) == key[:12]
    key_id = keyformat.key_id_for_digest(digest)
    assert key_id.startswith("key_") and len(key_id) == 28
    assert key not in key_id and digest not in key_id
    assert keyformat.key_id_for_digest(digest) == key_id


def test_bearer_and_basic_parsing():
    key = keyformat.generate()
    assert keyformat.from_authorization_header(f"Bearer {key}") == key
    assert keyformat.from_authorization_header(f"bearer   {key} ") == key
    basic = base64.b64encode(f"{key}:".encode()).decode()
    assert keyformat.from_authorization_header(f"Basic {basic}") == key


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "Bearer",
        "Bearer ",
        "Token abc",
        "Basic !!!notbase64",
        "Basic " + base64.b64encode(b"no-colon").decode(),
        "Basic " + base64.b64encode(b"user:password").decode(),
        "Basic " + base64.b64encode(b"\xff\xfe:").decode(),
        "Bearer " + "a" * 5000,
    ],
)
def test_malformed_headers_yield_no_key(header):
    assert keyformat.from_authorization_header(header) is None
