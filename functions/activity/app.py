"""The activity rollup (CloudWatch Logs subscription on the request functions' log groups): each batch of
activity lines added to the key's hourly and daily items (filegate.activity). CloudWatch Logs invokes it
asynchronously: a batch that fails is retried by Lambda (twice), so a batch that failed halfway may count
some of its requests twice; never fewer."""

from __future__ import annotations

from typing import Any

from filegate.activity import rollup
from filegate.clock import utcnow
from filegate.db import bind_tables
from filegate.observability import instrument
from filegate.settings import ActivitySettings

settings = ActivitySettings.from_env()
bind_tables(settings)


def roll_up(event: dict[str, Any], _context: Any) -> dict[str, int]:
    return {"items": rollup.roll_up(rollup.decode_subscription_event(event), utcnow())}


handler = instrument(roll_up)
