"""What GitHub found (docs/api.md §9): each record judged on its own, a live key of ours revoked and its owner told.

A record is judged without a read when its token is not shaped like our keys or its checksum is wrong, then
by the hash lookup the authorizer makes. A key that exists is a ``true_positive`` (revoked or not); a live
one is revoked at once through the keys service's own revoke (the same code as ``DELETE /v1/keys/{id}``, so
it takes effect on the next request), and its owner is told once — mail, the ``key.leaked`` audit entry by
``github``, the ``key.leaked`` webhook event — however often GitHub sends it again (a notice is claimed in
the table before anyone is told). A record that breaks something is logged and answered, never fails the
batch. The raw token is never logged or stored: only its SHA-256 leaves this module (the feedback list).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, Literal

from filegate import errors, mail
from filegate.audit import service as audit
from filegate.clock import iso
from filegate.db import accounts as accounts_table
from filegate.db import keys as keys_table
from filegate.db import secret_scanning as store
from filegate.keys import keyformat
from filegate.keys import service as key_service
from filegate.observability import logger
from filegate.secret_scanning.github_keys import KeyRing, verify
from filegate.settings import SecretScanningSettings
from filegate.webhooks import emitting as webhook_events
from filegate.webhooks import events

Label = Literal["true_positive", "false_positive"]
MAX_RECORDS: Final = 10_000
JUDGES: Final = 16  # records judged at once (threads: each waits on DynamoDB)
MAX_FIELD_CHARS: Final = 2048
_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class Finding:
    token: str
    token_type: str
    url: str
    source: str

    @classmethod
    def of(cls, record: object) -> Finding:
        fields = record if isinstance(record, dict) else {}

        def text(name: str) -> str:
            value = fields.get(name)
            return _CONTROL.sub("", value)[:MAX_FIELD_CHARS] if isinstance(value, str) else ""

        token = fields.get("token")
        return cls(token if isinstance(token, str) else "", text("type"), text("url"), text("source"))

    @property
    def token_hash(self) -> str:
        return hashlib.sha256(self.token.encode("utf-8", "surrogatepass")).hexdigest()


def receive(
    body: bytes, headers: Mapping[str, str], ring: KeyRing, settings: SecretScanningSettings, now: datetime
) -> list[dict[str, str]]:
    """POST /v1/integrations/github/secret-scanning: the signature first (401, nothing read), then the
    feedback list, one entry per record, in order."""
    verify(body, headers, ring, now)
    try:
        records = json.loads(body)
    except ValueError:
        raise errors.InvalidRequest("The body is not JSON.") from None
    if not isinstance(records, list):
        raise errors.InvalidRequest("The body must be a JSON array of findings.")
    if len(records) > MAX_RECORDS:
        raise errors.InvalidRequest(f"At most {MAX_RECORDS} findings per delivery.")
    findings = [Finding.of(record) for record in records]
    # Each record is one hash lookup (and rarely a revocation): done side by side, answered in order, so a
    # 1,000-record batch stays well within GitHub's patience.
    with ThreadPoolExecutor(max_workers=JUDGES) as pool:
        feedback = list(pool.map(lambda finding: _answer(finding, settings, now), findings))
    positives = sum(entry["label"] == "true_positive" for entry in feedback)
    logger.info("secret scanning batch judged", extra={"records": len(feedback), "true_positives": positives})
    return feedback


def _answer(finding: Finding, settings: SecretScanningSettings, now: datetime) -> dict[str, str]:
    try:
        label = judge(finding, settings, now)
    except Exception:
        # This record alone: the others are still judged. Its label says what is known for sure.
        logger.exception("a secret scanning record could not be judged", extra={"token_hash": finding.token_hash})
        label = "true_positive" if _exists(finding) else "false_positive"
    return {"token_hash": finding.token_hash, "token_type": finding.token_type, "label": label}


def _exists(finding: Finding) -> bool:
    try:
        return _key_of(finding) is not None
    except Exception:
        return False


def _key_of(finding: Finding) -> keys_table.KeyRecord | None:
    """Our key with this token: shape and checksum first (no read), then the hash lookup."""
    if not keyformat.is_well_formed(finding.token):
        return None
    digest = keyformat.digest(finding.token)
    record = keys_table.get(keyformat.key_id_for_digest(digest))
    if record is None or record.key_hash != digest:
        return None
    return record


def _is_alive(record: keys_table.KeyRecord, now: datetime) -> bool:
    return not any(moment is not None and moment <= now for moment in (record.revoked_at, record.expires_at))


def judge(finding: Finding, settings: SecretScanningSettings, now: datetime) -> Label:
    """One record: its label, and a live key revoked with its owner told (once)."""
    record = _key_of(finding)
    if record is None:
        return "false_positive"
    if not _is_alive(record, now):
        return "true_positive"  # already dead: not revoked or mailed again
    account = accounts_table.get(record.account_id)
    key_service.revoke_found_key(
        record, now=now, horizon=timedelta(seconds=settings.authorizer_cache_ttl_seconds), actor=audit.GITHUB
    )
    logger.warning("leaked key revoked", extra={"key_id": record.key_id, "key_prefix": record.key_prefix})
    if store.claim_notice(record.key_id, now):
        _tell_owner(record, account, finding, settings, now)
    return "true_positive"


def _tell_owner(
    record: keys_table.KeyRecord,
    account: accounts_table.AccountRecord | None,
    finding: Finding,
    settings: SecretScanningSettings,
    now: datetime,
) -> None:
    """Mail, audit entry, webhook event: each tried on its own, so one failing does not cost the others."""
    if account is not None and account.email:
        try:
            mail.send(settings.email_sender, leak_notice(account.email, record, finding))
        except Exception:
            logger.exception("leaked-key notice not mailed", extra={"key_id": record.key_id})
    audit.record(record.account_id, audit.GITHUB, audit.KEY_LEAKED, record.key_id, "", now=now)
    try:
        webhook_events.emit_event(
            settings,
            account_id=record.account_id,
            account_tier=account.tier if account is not None else "free",
            event_type=events.KEY_LEAKED,
            data={
                "key_id": record.key_id,
                "key_prefix": record.key_prefix,
                "name": record.name,
                "url": finding.url or None,
                "source": finding.source or None,
                "revoked_at": iso(now),
            },
            occurred_at=now,
            source_id="leak_" + record.key_id,
            now=now,
        )
    except Exception:
        logger.exception("key.leaked webhook event not emitted", extra={"key_id": record.key_id})


def leak_notice(to: str, record: keys_table.KeyRecord, finding: Finding) -> mail.Message:
    where = finding.url or "a public place GitHub did not name"
    text = (
        "GitHub found one of your FileGate API keys in public, and we have revoked it.\n\n"
        f"Key: {record.name} ({record.key_prefix}…)\n"
        f"Found at: {where}\n\n"
        "The key stopped working at once. Anything that used it needs a new key: create one in the dashboard "
        "or with POST /v1/keys, and remove the old one from where it was published (and from its history).\n"
    )
    return mail.Message(
        to=to, subject=f"Your FileGate key {record.key_prefix}… was found in public and revoked", text=text
    )
