"""Keys (docs/api.md §5 "Keys and account"): the domain behind the keys function; the accounts they belong
to are filegate.accounts.

Every change that alters what a key may do takes a version, writes it with the change and stamps it on the
account's counter items before returning (filegate.keys.stamps), so it applies on the very next request
through any function. ``horizon`` is how long API Gateway may cache an authorizer answer (its TTL).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from filegate import errors
from filegate.audit import service as audit
from filegate.clock import iso, utcnow
from filegate.context import AuthContext
from filegate.db import counters
from filegate.db import keys as keys_table
from filegate.db.pages import Page
from filegate.keys import changes, ipallow, keyformat, rotation, stamps
from filegate.keys.authority import Authority
from filegate.keys.checkpoints import checkpoint
from filegate.listing import page_json
from filegate.metering import limits
from filegate.observability import logger
from filegate.routes import SCOPES, normalise_scopes
from filegate.suggest import did_you_mean
from filegate.tiers import DEFAULT_KEY_SCOPES, MAX_ROTATION_GRACE_SECONDS

MAX_NAME_LENGTH = 100


@dataclass(frozen=True)
class IssuedKey:
    """A key as returned by every call that creates one: the raw key, exactly once."""

    raw_key: str
    record: keys_table.KeyRecord

    def as_json(self) -> dict[str, Any]:
        """docs/api.md: every response that creates a key (create, rotate) has exactly this shape."""
        record = self.record
        return {
            "api_key": self.raw_key,
            "key_id": record.key_id,
            "name": record.name,
            "key_prefix": record.key_prefix,
            "scopes": list(record.scopes),
            "allowed_ips": list(record.allowed_ips),
            "expires_at": iso(record.expires_at),
            "created_at": iso(record.created_at),
        }


def key_json(record: keys_table.KeyRecord, last_used_at: datetime | None = None) -> dict[str, Any]:
    """A key's public view. Never the hash, never the raw key. ``last_used_at`` from :func:`last_uses`."""
    return {
        "id": record.key_id,
        "name": record.name,
        "key_prefix": record.key_prefix,
        "scopes": list(record.scopes),
        "allowed_ips": list(record.allowed_ips),
        "created_at": iso(record.created_at),
        "last_used_at": iso(max((t for t in (record.last_used_at, last_used_at) if t is not None), default=None)),
        "expires_at": iso(record.expires_at),
        "revoked_at": iso(record.revoked_at),
    }


def new_key_record(
    *,
    account_id: str,
    name: str,
    scopes: list[str],
    allowed_ips: list[str],
    expires_at: datetime | None,
    mode: keyformat.Mode,
    now: datetime,
    version: int = 0,
    pending_rotation_of: str | None = None,
) -> IssuedKey:
    """A new key record carrying ``version``: the account's change_seq when it was made, so a collapsed
    (account-wide) key stamp from before it never sends its requests back to the database."""
    raw = keyformat.generate(mode)
    key_digest = keyformat.digest(raw)
    record = keys_table.KeyRecord(
        keyformat.key_id_for_digest(key_digest),
        key_hash=key_digest,
        key_prefix=keyformat.display_prefix(raw),
        account_id=account_id,
        name=name,
        mode=mode,
        scopes=scopes,
        allowed_ips=allowed_ips,
        created_at=now,
        expires_at=expires_at,
        version=version or None,
        published_version=version or None,  # nothing was cached for a key that did not exist
        pending_rotation_of=pending_rotation_of,
    )
    return IssuedKey(raw, record)


def validate_scopes(requested: list[str]) -> list[str]:
    unknown = [s for s in requested if s not in SCOPES]
    if unknown:
        raise errors.InvalidRequest(f"scopes: unknown scope {unknown[0]!r}{did_you_mean(str(unknown[0]), SCOPES)}.")
    return normalise_scopes(requested)


def authority_of(caller: AuthContext, now: datetime) -> Authority:
    """What the calling key may hand on: read from its record as it is now (a change is rare; its rules are
    not decided from a context that API Gateway may have cached). A signed-in person (a dashboard session)
    has the account's full authority. A key in its rotation grace hands on nothing: it is on its way out,
    and no successor it made or changed may outlive it (403)."""
    if caller.is_session:
        return Authority(scopes=caller.scopes)
    record = keys_table.get(caller.key_id)
    if record is None or record.account_id != caller.account_id or not is_alive(record, now):
        raise errors.InvalidApiKey()
    if record.revoked_at is not None:
        raise errors.InsufficientScope(
            "This key is in its rotation grace period: it may not create, rotate or change keys. "
            "Use the key that replaced it."
        )
    return Authority(
        scopes=frozenset(record.scopes) & caller.scopes,
        allowed_ips=tuple(record.allowed_ips),
        test_only=record.mode == "test" or caller.test_mode,
        expires_at=record.expires_at,
    )


def validate_allowed_ips(entries: list[str]) -> list[str]:
    try:
        return ipallow.normalise(entries)
    except ValueError as exc:
        raise errors.InvalidRequest(f"allowed_ips: {exc}.") from exc


def validate_name(name: str) -> str:
    value = name.strip()
    if not value or len(value) > MAX_NAME_LENGTH:
        raise errors.InvalidRequest(f"name: must be 1 to {MAX_NAME_LENGTH} characters.")
    return value


def create_key(
    caller: AuthContext,
    *,
    name: str,
    scopes: list[str] | None,
    allowed_ips: list[str] | None,
    expires_at: datetime | None,
    mode: keyformat.Mode,
    now: datetime,
    actor: audit.Actor | None = None,
    ip: str = "",
) -> IssuedKey:
    if expires_at is not None and expires_at <= now:
        raise errors.InvalidRequest("expires_at: must be in the future.")
    chosen = validate_scopes(list(DEFAULT_KEY_SCOPES) if scopes is None else scopes)
    ips = validate_allowed_ips(allowed_ips or [])
    authority_of(caller, now).require("create", scopes=chosen, allowed_ips=ips, mode=mode, expires_at=expires_at)
    limits.hit_change_limit(caller.account_id, now)
    issued = new_key_record(
        account_id=caller.account_id,
        name=validate_name(name),
        scopes=chosen,
        allowed_ips=ips,
        expires_at=expires_at,
        mode=mode,
        now=now,
        version=changes.begin(caller.account_id, now).version,
    )
    keys_table.put_new(issued.record)
    audit.record(
        caller.account_id, actor or audit.key_actor(caller), audit.KEY_CREATED, issued.record.key_id, ip, now=now
    )
    return issued


def list_keys(caller: AuthContext, *, limit: int, cursor: str | None) -> dict[str, Any]:
    uses: dict[str, datetime] = {}

    def fetch() -> Page[keys_table.KeyRecord]:
        page = keys_table.list_for_account(caller.account_id, limit=limit, cursor=cursor)
        # A rotation's pending new key is no key yet (it never works unless its rotation completes).
        page = Page([record for record in page.items if record.pending_rotation_of is None], page.next_cursor)
        uses.update(last_uses([record.key_id for record in page.items], utcnow()))
        return page

    return page_json(fetch, lambda record: key_json(record, uses.get(record.key_id)))


def last_uses(key_ids: list[str], now: datetime) -> dict[str, datetime]:
    """When each key was last used, to the minute, as the metering write records it (one batch read)."""
    minutes = counters.read_many([counters.last_used_id(k) for k in key_ids], now)
    return {
        key_id: datetime.fromtimestamp(minutes[counters.last_used_id(key_id)], tz=UTC)
        for key_id in key_ids
        if minutes[counters.last_used_id(key_id)]
    }


def get_key(caller: AuthContext, key_id: str) -> dict[str, Any]:
    """One of the caller's account's keys (the dashboard's revoke confirmation); 404 for any other."""
    return key_json(_owned(caller, key_id))


def _owned(caller: AuthContext, key_id: str) -> keys_table.KeyRecord:
    record = keys_table.get_owned(caller.account_id, key_id)
    if record is None:
        raise errors.NotFound("No such key.")
    return record


def update_key(
    caller: AuthContext,
    key_id: str,
    *,
    name: str | None,
    scopes: list[str] | None,
    allowed_ips: list[str] | None,
    now: datetime,
    horizon: timedelta,
    actor: audit.Actor | None = None,
    ip: str = "",
) -> dict[str, Any]:
    """PATCH, decided on the key exactly as it is written: the caller's authority is checked against the
    content the write is conditional on, and a change that landed in between is read and decided on again.

    A change of scopes or allowlist is versioned and applies on the next request; a concurrent newer change
    wins and this one answers 409 (nothing written). Values the key already has change nothing: such a call
    counts, stamps and records nothing."""
    wanted: dict[str, Any] = {}
    if name is not None:
        wanted["name"] = validate_name(name)
    if scopes is not None:
        wanted["scopes"] = validate_scopes(scopes)
    if allowed_ips is not None:
        wanted["allowed_ips"] = validate_allowed_ips(allowed_ips)
    authority = authority_of(caller, now)
    counted = False

    def attempt() -> dict[str, Any] | None:
        nonlocal counted
        record = _owned(caller, key_id)
        authority.require(
            "change",
            scopes=wanted.get("scopes", record.scopes),
            allowed_ips=wanted.get("allowed_ips", record.allowed_ips),
            mode=record.mode,
            expires_at=record.expires_at,
        )
        fields = {field: value for field, value in wanted.items() if not _holds(record, field, value)}
        if not fields:
            return key_json(record)
        if not counted:
            limits.hit_change_limit(caller.account_id, now)
            counted = True
        versioned = "scopes" in fields or "allowed_ips" in fields  # what the key may do
        version = changes.begin(record.account_id, now).version if versioned else None
        checkpoint("versioned")
        try:
            keys_table.update_fields(record, version=version, **fields)
        except keys_table.KeyChanged:
            return None  # changed since it was read (at an older version): decide again on what is there now
        except keys_table.StaleVersion as exc:
            raise errors.Conflict("The key changed while this change was being made; read it again and retry.") from exc
        checkpoint("written")
        for field, value in fields.items():
            setattr(record, field, value)
        if version is not None:
            record.version = version
            _publish_key(record.account_id, record.key_id, version, now=now, horizon=horizon)
        audit.record(caller.account_id, actor or audit.key_actor(caller), audit.KEY_UPDATED, record.key_id, ip, now=now)
        return key_json(record)

    return changes.until_settled(attempt, gave_up="The key kept changing while this change was being made; retry.")


def _holds(record: keys_table.KeyRecord, field: str, value: Any) -> bool:
    """The key already has this value (scopes and allowlists compare as sets: their order means nothing)."""
    current = getattr(record, field)
    if isinstance(value, list):
        return set(current or []) == set(value)
    return bool(current == value)


def _publish_key(
    account_id: str, key_id: str, version: int, *, now: datetime, horizon: timedelta, shards: int = 1
) -> None:
    try:
        stamps.publish_key_change(account_id, key_id, version, now=now, horizon=horizon, shards=shards)
    except stamps.StampingFailed as exc:
        # Written but not yet stamped everywhere: the stream's stamper finishes it within seconds, and a retry
        # of the call re-publishes before answering; say so (500) rather than pretend it applied.
        logger.exception("change not stamped everywhere", extra={"key_id": key_id, "version": version})
        raise errors.InternalError("The change was saved but could not be applied everywhere yet; retry.") from exc


def revoke_key(
    caller: AuthContext,
    key_id: str,
    *,
    now: datetime,
    horizon: timedelta,
    actor: audit.Actor | None = None,
    ip: str = "",
) -> bool:
    """DELETE /v1/keys/{id}: dead at once. Never refused by the account's change limit (a revoke only takes
    power away, and a leaked key must not be able to spend the limit to lock its owner out of revoking it).
    Idempotent: revoking a dead key counts, writes, stamps and records nothing — unless the call that
    revoked it failed before stamping, which this finishes. True when this call revoked the key."""
    record = _owned(caller, key_id)
    revoked = revoke_record(record, now=now, horizon=horizon)
    if revoked:  # a repeated revoke changes nothing: one entry per revocation
        audit.record(caller.account_id, actor or audit.key_actor(caller), audit.KEY_REVOKED, record.key_id, ip, now=now)
    return revoked


def revoke_found_key(record: keys_table.KeyRecord, *, now: datetime, horizon: timedelta, actor: audit.Actor) -> bool:
    """A key found where it should not be (GitHub's secret scanning): revoked as DELETE /v1/keys/{id} does."""
    revoked = revoke_record(record, now=now, horizon=horizon)
    if revoked:
        audit.record(record.account_id, actor, audit.KEY_REVOKED, record.key_id, "", now=now)
    return revoked


def revoke_record(record: keys_table.KeyRecord, *, now: datetime, horizon: timedelta) -> bool:
    """Revoke this key now, winning over any concurrent change of it: when a newer version landed first, a
    newer one is taken and the revoke written again, so it ends as the key's newest change. True when this
    call revoked it, False when it was already dead (then only a change of it left unpublished is published)."""

    def attempt() -> bool | None:
        if record.revoked_at is not None and record.revoked_at <= now:
            _finish_unpublished(record, now=now, horizon=horizon)
            return False
        change = changes.begin(record.account_id, now)
        checkpoint("versioned")
        try:
            revoked = keys_table.revoke(record, now, change.version)
        except keys_table.StaleVersion:
            return None
        if not revoked:
            return None  # dead by now: the record holds what killed it
        checkpoint("written")
        _publish_key(record.account_id, record.key_id, change.version, now=now, horizon=horizon, shards=change.shards)
        return True

    return changes.until_settled(attempt, gave_up="The key kept changing while it was being revoked; retry.")


def _finish_unpublished(record: keys_table.KeyRecord, *, now: datetime, horizon: timedelta) -> None:
    """A retry of a change whose call failed before stamping it finishes it; a finished one costs nothing."""
    version = int(record.version or 0)
    if int(record.published_version or 0) < version:
        _publish_key(record.account_id, record.key_id, version, now=now, horizon=horizon)


def rotate_key(
    caller: AuthContext,
    key_id: str,
    *,
    grace_seconds: int,
    now: datetime,
    horizon: timedelta,
    actor: audit.Actor | None = None,
    ip: str = "",
) -> IssuedKey:
    """A new key with the same name, scopes, allowlist, expiry and mode; the old one dies after the grace.

    All or nothing (filegate.keys.rotation): a failure undoes it and answers 500, and a retry rotates again.
    Written only if the old key is unchanged since it was read (a concurrent narrowing is never undone by a
    rotation copying the wider scopes); a key the caller could not have made itself is refused (403)."""
    if not 0 <= grace_seconds <= MAX_ROTATION_GRACE_SECONDS:
        raise errors.InvalidRequest(f"grace_seconds: must be 0 to {MAX_ROTATION_GRACE_SECONDS}.")
    authority = authority_of(caller, now)
    counted = False

    def attempt() -> IssuedKey | None:
        nonlocal counted
        old = _owned(caller, key_id)
        if not is_alive(old, now):
            _finish_unpublished(old, now=now, horizon=horizon)  # a failed revoke's retry, made as a rotation
            raise errors.NotFound("No such key.")
        mode: keyformat.Mode = "test" if old.mode == "test" else "live"
        authority.require(
            "rotate", scopes=old.scopes, allowed_ips=old.allowed_ips, mode=mode, expires_at=old.expires_at
        )
        if not counted:
            limits.hit_change_limit(caller.account_id, now)
            counted = True
        old_dies_at = now + timedelta(seconds=grace_seconds)
        if old.revoked_at is not None and old.revoked_at < old_dies_at:
            old_dies_at = old.revoked_at  # a rotation never extends an earlier grace
        change = changes.begin(old.account_id, now)
        issued = new_key_record(
            account_id=old.account_id,
            name=old.name,
            scopes=list(old.scopes),
            allowed_ips=list(old.allowed_ips),
            expires_at=old.expires_at,
            mode=mode,
            now=now,
            version=change.version,
            pending_rotation_of=old.key_id,
        )
        checkpoint("versioned")
        try:
            keys_table.replace(old, issued.record, old_dies_at, now, change.version)
        except keys_table.KeyChanged:
            return None  # edited, revoked or rotated meanwhile: read it again
        checkpoint("written")
        _complete_rotation(old, issued, change, now=now, horizon=horizon)
        audit.record(caller.account_id, actor or audit.key_actor(caller), audit.KEY_ROTATED, old.key_id, ip, now=now)
        return issued

    return changes.until_settled(attempt, gave_up="The key kept changing while it was being rotated; retry.")


def _complete_rotation(
    old: keys_table.KeyRecord, issued: IssuedKey, change: stamps.Change, *, now: datetime, horizon: timedelta
) -> None:
    """Stamp the old key's end, activate the new key, then mark the change published; any failure before the
    activation undoes the rotation (500: the old key works as before, the new one never will)."""
    new_key_id = issued.record.key_id
    try:
        stamps.stamp_key_change(
            old.account_id, old.key_id, change.version, now=now, horizon=horizon, shards=change.shards
        )
        checkpoint("stamped")
        keys_table.activate(issued.record)
    except Exception as exc:
        logger.exception("rotation failed: undoing it", extra={"key_id": old.key_id, "version": change.version})
        try:
            rotation.undo(old.key_id, new_key_id, change.version, now=now, horizon=horizon)
        except Exception:  # left to the stream's stamper, which undoes or finishes what is left
            logger.exception("rotation not undone everywhere yet", extra={"key_id": old.key_id})
        raise errors.InternalError("The rotation failed and was undone: the old key works as before; retry.") from exc
    issued.record.pending_rotation_of = None
    try:
        keys_table.mark_published(old.key_id, change.version)
    except Exception:  # done and effective; unmarked, the stream's stamper re-stamps it (harmless)
        logger.exception("rotation not marked published", extra={"key_id": old.key_id, "version": change.version})


def is_alive(record: keys_table.KeyRecord, now: datetime) -> bool:
    return not any(t is not None and t <= now for t in (record.revoked_at, record.expires_at))
