"""Rotation, all or nothing (docs/api.md §5): if its call fails, the old key keeps working as before and the new
key never works; a retry simply rotates again.

1. One transaction writes the new key *pending* (it does not authenticate: filegate.keys.authorizer) and the
   old key's end (revoked_at = now + grace) at a new version, keeping the old key's revoked_at from before
   (filegate.db.keys.replace).
2. The old key's end is stamped everywhere (filegate.keys.stamps): from then on no cached answer outlives it.
3. The new key is activated (one conditional write), and only then is its raw value shown.

Whatever fails after step 1 is undone by :func:`undo`: the pending key is deleted, and the old key's revoked_at
put back at a newer version, stamped too, so that a function which re-read the old key at the rotation's
version (and remembered it dead) reads it again. A caller that died midway leaves a pending key behind; the
stream's stamper undoes that rotation once the caller cannot be running any more (filegate.keys.backstop).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from filegate.db import keys as keys_table
from filegate.keys import stamps


def is_unfinished(old: keys_table.KeyRecord) -> bool:
    """The old key's last change is a rotation whose new key is still pending (never activated)."""
    if old.rotation_successor is None:
        return False
    successor = keys_table.get(old.rotation_successor)
    return successor is not None and successor.pending_rotation_of == old.key_id


def undo(old_key_id: str, new_key_id: str, rotated_version: int, *, now: datetime, horizon: timedelta) -> bool:
    """Undo the rotation of ``old_key_id`` (written at ``rotated_version``) into the pending ``new_key_id``.

    The pending key is deleted (an activated one never is); the old key is restored only while the
    rotation is still its last change — a revoke or edit made since stands. True when the old key was
    restored. Raises stamps.StampingFailed when the restored key could not be stamped everywhere (the
    stream's stamper finishes it: the restored record's version is left unpublished)."""
    keys_table.drop_pending(new_key_id, old_key_id)
    old = keys_table.get(old_key_id)
    if old is None or old.rotation_successor != new_key_id or int(old.version or 0) != rotated_version:
        return False
    change = stamps.begin(old.account_id, now)
    if change is None:
        return False
    if not keys_table.restore_before_rotation(old, new_key_id, rotated_version, change.version):
        return False
    stamps.publish_key_change(
        old.account_id, old_key_id, change.version, now=now, horizon=horizon, shards=change.shards
    )
    return True
