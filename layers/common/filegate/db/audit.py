"""The audit log table: one item per change, keyed (account_id, entry_key) so an account's log is one Query,
newest first. ``entry_key`` is ``<ISO time>#<entry id>``: it sorts by time and never collides. Items expire
by TTL (a year, set by the audit service)."""

from __future__ import annotations

from datetime import datetime

from pynamodb.attributes import TTLAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.models import Model

from filegate.db.pages import Page, decode_cursor, encode_cursor, key_shape, resumed


class AuditRecord(Model):
    class Meta:
        table_name = "unbound-audit"

    account_id = UnicodeAttribute(hash_key=True)
    entry_key = UnicodeAttribute(range_key=True)
    entry_id = UnicodeAttribute()
    at = UTCDateTimeAttribute()
    actor_type = UnicodeAttribute()  # key | session | admin | github
    actor_id = UnicodeAttribute()
    actor_label = UnicodeAttribute()  # a key prefix, an email, "github": never a secret
    action = UnicodeAttribute()
    target = UnicodeAttribute()
    ip = UnicodeAttribute(null=True)
    expires_at = TTLAttribute()


def entry_key(at: datetime, entry_id: str) -> str:
    return f"{at.strftime('%Y-%m-%dT%H:%M:%S.%fZ')}#{entry_id}"


def put(record: AuditRecord) -> None:
    record.save(condition=AuditRecord.entry_key.does_not_exist())


def list_for_account(account_id: str, *, limit: int, cursor: str | None, now: datetime) -> Page[AuditRecord]:
    """One page of the account's entries, newest first; entries past their TTL are skipped (DynamoDB deletes
    lazily). Raises BadCursor for a cursor not of this listing."""
    shape = key_shape(AuditRecord._get_schema())
    start = decode_cursor(cursor, "account_id", account_id, shape) if cursor else None
    items: list[AuditRecord] = []
    more = False
    query = AuditRecord.query(
        account_id, scan_index_forward=False, last_evaluated_key=start, page_size=limit + 1, consistent_read=True
    )
    for item in resumed(query, cursor):
        if item.expires_at is not None and item.expires_at <= now:
            continue
        if len(items) == limit:
            more = True
            break
        items.append(item)
    if not (more and items):
        return Page(items, None)
    last = items[-1]
    return Page(items, encode_cursor({"account_id": {"S": last.account_id}, "entry_key": {"S": last.entry_key}}))
