"""GitHub's meta document of secret-scanning keys: only well-formed P-256 public keys are accepted."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from filegate.egress.fetch import FetchFailed
from filegate.secret_scanning import github_keys
from filegate.secret_scanning.github_keys import KeyRing, PublicKey, parse_meta


def pem(private: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> str:
    public = private.public_key()
    return public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


P256 = pem(ec.generate_private_key(ec.SECP256R1()))


def test_a_meta_document_is_read() -> None:
    document = {
        "public_keys": [
            {"key_identifier": "abc123", "key": P256, "is_current": True},
            {"key_identifier": "old", "key": P256, "is_current": False},
        ]
    }
    keys = parse_meta(json.dumps(document))
    assert [(k.identifier, k.is_current) for k in keys] == [("abc123", True), ("old", False)]


@pytest.mark.parametrize(
    ("document", "named"),
    [
        ("not json", "not JSON"),
        ("[]", "public_keys"),
        ('{"public_keys": {}}', "public_keys"),
        ('{"public_keys": ["x"]}', "not an object"),
        (json.dumps({"public_keys": [{"key": P256}]}), "key_identifier"),
        (json.dumps({"public_keys": [{"key_identifier": "a b", "key": P256}]}), "key_identifier"),
        (json.dumps({"public_keys": [{"key_identifier": "a"}]}), "key is missing"),
        (json.dumps({"public_keys": [{"key_identifier": "a", "key": "-----BEGIN nothing"}]}), "key"),
        (
            json.dumps({"public_keys": [{"key_identifier": "a", "key": pem(ec.generate_private_key(ec.SECP384R1()))}]}),
            "P-256",
        ),
        (
            json.dumps({"public_keys": [{"key_identifier": "a", "key": pem(rsa.generate_private_key(65537, 2048))}]}),
            "P-256",
        ),
    ],
)
def test_malformed_documents_are_refused(document: str, named: str) -> None:
    with pytest.raises(ValueError, match=named):
        parse_meta(document)


# ------------------------------------------------------------------ the key ring follows the latest document


class FakeStore:
    """The secret-scanning table's meta document and refetch claim, in memory."""

    def __init__(self) -> None:
        self.meta: tuple[list[tuple[str, str, bool]], datetime] | None = None
        self.claimed_at: datetime | None = None

    def load_meta(self) -> tuple[list[tuple[str, str, bool]], datetime] | None:
        return self.meta

    def store_meta(self, keys: list[tuple[str, str, bool]], now: datetime) -> int:
        self.meta = (list(keys), now)
        return len(keys)

    def claim_refetch(self, now: datetime, interval: timedelta) -> bool:
        if self.claimed_at is not None and now - self.claimed_at < interval:
            return False
        self.claimed_at = now
        return True


class GitHub:
    """GitHub's meta document as a fetcher: what it lists now, and how often it was asked."""

    def __init__(self, *keys: tuple[str, bool]) -> None:
        self.keys = list(keys)
        self.fetches = 0

    def __call__(self) -> list[PublicKey]:
        self.fetches += 1
        return [PublicKey(identifier, P256, current) for identifier, current in self.keys]


T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def table(monkeypatch: pytest.MonkeyPatch) -> FakeStore:
    fake = FakeStore()
    for name in ("load_meta", "store_meta", "claim_refetch"):
        monkeypatch.setattr(github_keys.store, name, getattr(fake, name))
    return fake


def test_a_key_github_drops_stops_verifying_once_the_document_is_refetched_within_the_hour(table: FakeStore) -> None:
    github = GitHub(("k1", True), ("k2", True))
    ring = KeyRing(github)
    assert ring.key_for("k1", T0) is not None and github.fetches == 1
    github.keys = [("k2", True)]  # GitHub drops k1
    assert ring.key_for("k1", T0 + timedelta(minutes=59)) is not None  # the document is not an hour old yet
    assert github.fetches == 1
    assert ring.key_for("k1", T0 + timedelta(minutes=61)) is None  # refetched when a signature arrives
    assert github.fetches == 2
    assert table.meta is not None and [k[0] for k in table.meta[0]] == ["k2"]  # the table holds the latest only
    assert ring.key_for("k2", T0 + timedelta(minutes=62)) is not None


def test_a_key_no_longer_current_stops_verifying(table: FakeStore) -> None:
    github = GitHub(("k1", True))
    ring = KeyRing(github)
    assert ring.key_for("k1", T0) is not None
    github.keys = [("k1", False), ("k2", True)]
    assert ring.key_for("k1", T0 + timedelta(hours=2)) is None
    assert ring.key_for("k2", T0 + timedelta(hours=2)) is not None


def test_another_containers_fetch_reaches_this_containers_memory(table: FakeStore) -> None:
    github = GitHub(("k1", True))
    here, there = KeyRing(github), KeyRing(github)
    assert here.key_for("k1", T0) is not None
    github.keys = [("k2", True)]
    assert there.key_for("k2", T0 + timedelta(minutes=5)) is not None  # unknown id: one fetch, stored
    # This container's copy is still young, but an unknown identifier makes it re-read the table; past the
    # hour it re-reads it anyway and k1, dropped there, stops verifying here too.
    assert here.key_for("k2", T0 + timedelta(minutes=6)) is not None
    assert github.fetches == 2  # the table had k2: no fetch of its own
    assert here.key_for("k1", T0 + timedelta(minutes=7)) is None  # unknown now: GitHub asked again, k1 gone
    assert github.fetches == 3


def test_github_is_asked_at_most_once_a_minute_whatever_arrives(table: FakeStore) -> None:
    github = GitHub(("k1", True))
    ring = KeyRing(github)
    for second in range(0, 60, 5):
        assert ring.key_for("unknown", T0 + timedelta(seconds=second)) is None
    assert github.fetches == 1
    assert ring.key_for("unknown", T0 + timedelta(seconds=61)) is None and github.fetches == 2


def test_a_failed_refetch_keeps_the_latest_document_it_has(table: FakeStore) -> None:
    github = GitHub(("k1", True))
    ring = KeyRing(github)
    assert ring.key_for("k1", T0) is not None

    def unreachable() -> list[PublicKey]:
        raise FetchFailed("import_failed", "network error")

    ring_offline = KeyRing(unreachable)
    assert ring_offline.key_for("k1", T0 + timedelta(hours=3)) is not None  # the table's, refetch failed
