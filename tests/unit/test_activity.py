"""Per-key activity, the pure parts (docs/api.md §5): outcomes, the rollup's tally, windows and zero buckets,
the CloudWatch Logs subscription event, and the local stack's filter patterns."""

from __future__ import annotations

import base64
import gzip
import json
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from filegate import errors
from filegate.activity import query, rollup
from filegate.activity.outcomes import FIELDS, classify
from filegate.activity.record import LOG_FIELD, line
from filegate.routes import PUBLIC, ROUTES, SESSION
from filegate_local.log_subscriptions import (
    LogSubscription,
    LogSubscriptionSpec,
    UnsupportedFilterPattern,
    matcher,
    subscription_event,
)
from filegate_local.model import build_model
from filegate_local.template import Template
from filegate_local.workers import Invocation

ROOT = Path(__file__).resolve().parents[2]

NOW = datetime(2026, 12, 7, 10, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("status", "code", "outcome"),
    [
        (200, None, "succeeded"),
        (201, None, "succeeded"),
        (204, None, "succeeded"),
        (303, None, "succeeded"),
        (202, None, "succeeded"),
        (400, "invalid_request", "client_errors"),
        (404, "not_found", "client_errors"),
        (413, "file_too_large", "client_errors"),
        (422, "invalid_parameter", "client_errors"),
        (401, "invalid_api_key", "refused"),
        (403, "insufficient_scope", "refused"),
        (403, "account_suspended", "refused"),
        (429, "rate_limited", "rate_limited"),
        (429, "quota_exceeded", "quota_exceeded"),
        (500, "internal_error", "server_errors"),
    ],
)
def test_each_answer_counts_as_its_outcome(status: int, code: str | None, outcome: str) -> None:
    assert classify(status, code) == outcome


def _message(key_id: str, at: datetime, status: int, code: str | None = None, **extra: int) -> str:
    fields = line(key_id, at, "198.51.100.7", status, code, extra.get("conversions", 0), extra.get("units", 0))
    return json.dumps({"level": "INFO", "message": "request finished", LOG_FIELD: fields})


def test_the_tally_sums_each_key_by_hour_and_day_and_keeps_its_latest_request() -> None:
    at = NOW
    messages = [
        _message("key_a", at, 200, conversions=1, units=3),
        _message("key_a", at + timedelta(minutes=10), 429, "quota_exceeded"),
        _message("key_a", at + timedelta(hours=1), 404, "not_found"),
        _message("key_b", at, 403, "insufficient_scope"),
        json.dumps({"message": "some other line"}),
        "not json at all",
        json.dumps({LOG_FIELD: {"key_id": "key_c"}}),  # malformed: no time, no outcome
        _message("key_b", at, 500, "internal_error"),
    ]
    tally = rollup.tally(messages)
    hour = datetime(2026, 12, 7, 10, tzinfo=UTC)
    day = datetime(2026, 12, 7, tzinfo=UTC)
    assert tally.sums[("key_a", "hour", hour)] == {
        "requests": 2, "succeeded": 1, "quota_exceeded": 1, "conversions": 1, "units": 3
    }  # fmt: skip
    assert tally.sums[("key_a", "hour", hour + timedelta(hours=1))] == {"requests": 1, "client_errors": 1}
    assert tally.sums[("key_a", "day", day)]["requests"] == 3
    assert tally.sums[("key_b", "day", day)] == {"requests": 2, "refused": 1}  # a 500 counts as a request only
    assert tally.last["key_a"] == (int((at + timedelta(hours=1)).timestamp()), "198.51.100.7")
    assert not any(key == "key_c" for key, _, _ in tally.sums)


def test_a_subscription_event_round_trips_and_control_messages_carry_no_lines() -> None:
    event = subscription_event("/aws/lambda/keys", [(1, "first"), (2, "second")])
    assert rollup.decode_subscription_event(event) == ["first", "second"]
    control = {"messageType": "CONTROL_MESSAGE", "logEvents": [{"message": "CWL CONTROL MESSAGE"}]}
    data = base64.b64encode(gzip.compress(json.dumps(control).encode())).decode()
    assert rollup.decode_subscription_event({"awslogs": {"data": data}}) == []


def test_the_default_window_is_the_last_24_hours_by_hour_with_every_bucket_present() -> None:
    win = query.window(None, None, None, NOW)
    assert (win.start, win.end, win.granularity) == (NOW - timedelta(hours=24), NOW, "hour")
    stored = {datetime(2026, 12, 7, 9, tzinfo=UTC): {"requests": 4, "succeeded": 4}}
    data = query.buckets(win, stored)
    # 10:30 yesterday to 10:30 today touches 25 hours: the first and last partly.
    assert len(data) == 25
    assert data[0]["start"] == "2026-12-06T10:00:00Z" and data[-1]["start"] == "2026-12-07T10:00:00Z"
    assert all(set(b) == {"start", *FIELDS} for b in data)
    nine = next(b for b in data if b["start"] == "2026-12-07T09:00:00Z")
    assert nine["requests"] == 4 and nine["refused"] == 0
    assert sum(b["requests"] for b in data) == 4


def test_days_are_whole_utc_days() -> None:
    win = query.window(NOW - timedelta(days=7), NOW, "day", NOW)
    starts = win.starts()
    assert len(starts) == 8 and starts[0] == datetime(2026, 11, 30, tzinfo=UTC)
    assert all(s.hour == 0 for s in starts)


@pytest.mark.parametrize(
    ("start", "end", "granularity", "names"),
    [
        (NOW - timedelta(days=91), NOW, "day", "90 days"),
        (NOW, NOW - timedelta(hours=1), "hour", "before to"),
        (NOW, NOW, "hour", "before to"),
        (None, None, "minute", "granularity"),
        (None, datetime(1, 1, 1, tzinfo=UTC), "hour", "too early"),
    ],
)
def test_a_bad_range_is_refused_naming_what_is_wrong(
    start: datetime | None, end: datetime | None, granularity: str, names: str
) -> None:
    with pytest.raises(errors.InvalidRequest) as refused:
        query.window(start, end, granularity, NOW)
    assert names in refused.value.message


def test_ninety_days_exactly_is_allowed() -> None:
    assert len(query.window(NOW - timedelta(days=90), NOW, "day", NOW).starts()) == 91


def test_the_local_stack_filters_log_lines_as_the_template_asks() -> None:
    matches = matcher('{ $.activity.outcome = "*" }')
    assert matches(_message("key_a", NOW, 200))
    assert not matches(json.dumps({"message": "request finished"}))
    assert not matches(json.dumps({"activity": "flat"}))
    assert not matches("[ERROR] not json")
    assert matcher("")("anything")
    with pytest.raises(UnsupportedFilterPattern):
        matcher("[ip, user, status=4*]")


class _Pool:
    """A function pool that records what it is given, failing the first ``failures`` invocations."""

    def __init__(self, failures: int = 0) -> None:
        self.events: list[dict[str, object]] = []
        self.failures = failures

    def invoke(self, event: dict[str, object]) -> Invocation:
        self.events.append(event)
        status = "error" if len(self.events) <= self.failures else "ok"
        return Invocation(request_id=str(len(self.events)), status=status)


def _delivered(pool: _Pool) -> list[list[str]]:
    return [rollup.decode_subscription_event(event) for event in pool.events]  # type: ignore[arg-type]


def _spec() -> LogSubscriptionSpec:
    return LogSubscriptionSpec("ActivityFunction", "KeysLogs", "KeysFunction", "/aws/lambda/keys", PATTERN)


PATTERN = '{ $.activity.outcome = "*" }'


def test_the_local_stack_hands_matching_lines_on_in_one_batch_and_retries_a_failure_as_lambda_does() -> None:
    stop = threading.Event()
    pool = _Pool(failures=1)
    subscription = LogSubscription(_spec(), pool, stop)  # type: ignore[arg-type]
    wanted = _message("key_a", NOW, 200)
    for text in (wanted, '{"message": "other"}', wanted):
        subscription.offer(text.encode() + b"\n")
    subscription._deliver(subscription._take())  # what its thread does every FLUSH_SECONDS
    assert _delivered(pool) == [[wanted, wanted], [wanted, wanted]]  # failed once, delivered again
    assert subscription.delivered == 2 and subscription._take() == []


def test_the_template_subscribes_the_rollup_to_every_request_function_and_the_authorizer() -> None:
    model = build_model(Template(ROOT / "template.yaml", stack_name="st"))
    sources = {s.source for s in model.log_subscriptions if s.function == "ActivityFunction"}
    assert sources == {"AuthorizerFunction", "KeysFunction", "ConvertFunction", "FilesFunction", "WebhooksFunction"}
    assert {s.filter_pattern for s in model.log_subscriptions} == {PATTERN}
    by_folder = {spec.code_dir.name for name, spec in model.functions.items() if name in sources}
    http_functions = {r.function for r in ROUTES if r.scope not in (PUBLIC, SESSION)}
    assert http_functions <= by_folder  # every function that serves a key's requests writes activity lines


def test_the_calendars_last_days_end_the_buckets_without_overflowing() -> None:
    end = datetime.max.replace(tzinfo=UTC)
    win = query.window(end - timedelta(days=2), end, "day", NOW)
    assert [s.day for s in win.starts()] == [29, 30, 31]
