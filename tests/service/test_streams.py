"""The tables' streams reach the stamper (StamperFunction) as Lambda hands them over: a key change its
caller wrote but never published is stamped from the keys table's stream (filegate.keys.backstop)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from tests.service.harness import ServiceApi
from tests.service.helpers import Account
from tests.service.races import StamperClock

STAMPER = "StamperFunction"


def _unpublished_key_change(account: Account, key_id: str, name: str) -> int:
    """What a change call that died before stamping leaves: the key written at a new version, unpublished."""
    from filegate.clock import utcnow
    from filegate.db import keys as keys_table
    from filegate.keys import stamps

    change = stamps.begin(account.account_id, utcnow())
    assert change is not None
    record = keys_table.get(key_id)
    assert record is not None
    keys_table.update_fields(record, version=change.version, name=name)
    return change.version


def _key_stamps(account: Account, key_id: str, at: datetime) -> int:
    """The key's stamp on the account's rate item of that moment (0: none)."""
    from filegate.db import counters
    from filegate.metering import limits

    ((counter_id, _),) = limits.rate_counters_between(account.account_id, 1, at, at)
    return counters.peek_stamps(counter_id).get(counters.key_stamp(key_id), 0)


def _published(key_id: str) -> int:
    from filegate.db import keys as keys_table

    record = keys_table.get(key_id)
    assert record is not None
    return int(record.published_version or 0)


def _changes_of(records: list[dict[str, Any]], key_id: str) -> list[dict[str, Any]]:
    return [r for r in records if r["dynamodb"]["Keys"].get("key_id") == {"S": key_id}]


def test_an_unpublished_key_change_reaches_the_stamper_and_is_stamped(
    api: ServiceApi, free_account: Account, stamper_clock: StamperClock
) -> None:
    from filegate.clock import utcnow

    horizon = timedelta(seconds=int(api.parameters["AuthorizerCacheTtl"]))
    now = utcnow()
    key_id = free_account.key_id
    api.run_streams(STAMPER)  # what the account's creation changed
    version = _unpublished_key_change(free_account, key_id, "written, never stamped")
    assert _key_stamps(free_account, key_id, now) < version and _published(key_id) < version

    given = api.run_streams(STAMPER)

    assert stamper_clock.waited >= 1  # it gave the change's caller time to finish first
    assert given and {r["eventName"] for r in given} == {"MODIFY"}  # the FilterCriteria
    change, mark = _changes_of(given, key_id)  # in order: the change, then the stamper's own mark
    assert change["dynamodb"]["NewImage"]["version"] == {"N": str(version)}
    assert change["dynamodb"]["OldImage"]["name"] != change["dynamodb"]["NewImage"]["name"]
    assert change["eventSourceARN"].split("/stream/")[0].endswith("/filegate-service-KeysTable")
    assert mark["dynamodb"]["NewImage"]["published_version"] == {"N": str(version)}  # reached it, skipped
    assert _key_stamps(free_account, key_id, now) == version
    assert _key_stamps(free_account, key_id, now + horizon) == version  # until cached answers are gone
    assert _published(key_id) == version

    assert not _changes_of(api.run_streams(STAMPER), key_id)  # only what is new


def test_a_failed_record_and_those_after_it_are_given_again(
    api: ServiceApi, free_account: Account, monkeypatch: pytest.MonkeyPatch, stamper_clock: StamperClock
) -> None:
    from filegate.keys import stamps

    second = free_account.create_key(name="second")["key_id"]
    api.run_streams(STAMPER)  # what the account's creation changed
    first_version = _unpublished_key_change(free_account, free_account.key_id, "first")
    second_version = _unpublished_key_change(free_account, second, "second")
    publish = stamps.publish_key_change

    def failing_for_the_first_key(account_id: str, key_id: str, version: int, **kwargs: Any) -> None:
        if key_id == free_account.key_id:
            raise stamps.StampingFailed("the counters table is throttling")
        publish(account_id, key_id, version, **kwargs)

    monkeypatch.setattr(stamps, "publish_key_change", failing_for_the_first_key)
    given = api.run_streams(STAMPER)
    assert _changes_of(given, free_account.key_id) and _changes_of(given, second)
    assert _published(free_account.key_id) < first_version  # reported failed by its sequence number
    assert _published(second) == second_version  # Powertools went on with the records after it

    monkeypatch.setattr(stamps, "publish_key_change", publish)
    again = api.run_streams(STAMPER)
    first_given_again = _changes_of(again, free_account.key_id)[0]
    assert first_given_again["eventID"] == _changes_of(given, free_account.key_id)[0]["eventID"]
    assert _changes_of(again, second)[0]["eventID"] == _changes_of(given, second)[0]["eventID"]  # after it: again
    assert _published(free_account.key_id) == first_version
