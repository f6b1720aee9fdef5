"""Per-key activity (docs/activity.md): what recording costs the request path, and what rolling it up writes.

    .venv/bin/python tests/bench/bench_activity.py [--requests 20000]

1. The request path: one activity line (begin, note the key, write the JSON line) against a baseline in
   the same run, one Powertools INFO line like those every function already logs per request; both
   written to an in-memory stream. Ratio = activity line / baseline.
2. The rollup: DynamoDB writes per million requests when CloudWatch Logs hands the lines over in batches
   of 1 to 1,000 lines, spread over 1, 10 or 100 keys (the writes are what ``rollup.tally`` yields: one per
   key and hour, one per key and day, one per key's last use), their on-demand price, and the tally's speed.
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from aws_lambda_powertools import Logger  # noqa: E402

from filegate.activity import record, rollup  # noqa: E402

WRITE_PRICE_PER_MILLION = 0.625  # DynamoDB on demand, us-east-1, per million write request units
NOW = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)


def _per_call_us(action: object, count: int) -> float:
    samples = []
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(count):
            action()  # type: ignore[operator]
        samples.append((time.perf_counter() - started) / count * 1e6)
    return statistics.median(samples)


def request_path(count: int) -> None:
    sink = io.StringIO()
    logger = Logger(service="bench", logger_handler=logging.StreamHandler(sink))

    def baseline() -> None:
        logger.info("key accepted", extra={"key_id": "key_abc", "key_prefix": "fg_live_abcd", "suspended": False})

    def activity_line() -> None:
        token = record.begin(NOW, "203.0.113.7")
        record.note_key("key_abc")
        record.finish(token, 200)

    with contextlib.redirect_stdout(sink):
        base, line = _per_call_us(baseline, count), _per_call_us(activity_line, count)
    print("request path (µs per request, median of 5 runs)")
    print(f"  {'one Powertools log line (baseline)':<40} {base:8.1f}")
    print(f"  {'one activity line':<40} {line:8.1f}   ratio {line / base:.2f}")


def _lines(count: int, keys: int) -> list[str]:
    out = []
    for n in range(count):
        fields = record.line(f"key_{n % keys}", NOW + timedelta(seconds=n % 3600), "203.0.113.7", 200, None, 0, 0)
        out.append(json.dumps({"message": "activity", record.LOG_FIELD: fields}))
    return out


def rollup_writes(requests: int) -> None:
    print("\nrollup: DynamoDB writes per million requests (batches within one hour)")
    print(f"  {'batch':>6} {'keys':>5} {'writes/M':>12} {'$ per M':>9}")
    for keys in (1, 10, 100):
        for batch in (1, 10, 100, 1000):
            lines = _lines(batch, keys)
            tallied = rollup.tally(lines)
            per_batch = len(tallied.sums) + len(tallied.last)
            writes = per_batch * 1_000_000 / batch
            print(f"  {batch:>6} {keys:>5} {writes:>12,.0f} {writes / 1e6 * WRITE_PRICE_PER_MILLION:>9.3f}")
    lines = _lines(requests, 10)
    started = time.perf_counter()
    rollup.tally(lines)
    seconds = time.perf_counter() - started
    print(f"\ntally speed: {requests / seconds:,.0f} lines a second ({requests:,} lines, 10 keys)")
    print(f"baseline for the price: one write per request would be {WRITE_PRICE_PER_MILLION:.3f} $ per million")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=20_000)
    args = parser.parse_args()
    request_path(max(args.requests // 10, 100))
    rollup_writes(args.requests)


if __name__ == "__main__":
    main()
