"""Sharded counters under contention: one enterprise account's counters hammered by many threads.

Runs the real metering code (filegate.metering.limits) against the embedded DynamoDB of a local stack,
through a counting proxy, and prints writes per item and over-admissions (must be 0). Asserts nothing.

1. the enterprise tier as it is (600,000 a minute over 20 items): how evenly writes spread, and what one
   item would take at 10,000 requests a second;
2. the same spread with a limit small enough to exhaust: admitted vs limit, per-shard counts vs caps;
3. the monthly quota, sharded with a hard stop: admitted vs limit.

    .venv/bin/python tests/bench/bench_authz_counters.py [--threads 64] [--requests 4000]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
for path in (ROOT, ROOT / "infra", ROOT / "layers" / "common"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from tests.bench._dynamodb_counter import DynamoDBCounter  # noqa: E402
from tests.helpers.local_stack import start_local_stack  # noqa: E402

ENTERPRISE_RPS = 10_000


def _hammer(threads: int, requests: int, call: Callable[[], bool]) -> tuple[int, float]:
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        admitted = sum(pool.map(lambda _: call(), range(requests)))
    return admitted, time.monotonic() - started


def _writes_per_item(counter: DynamoDBCounter, prefix: str) -> dict[str, int]:
    return {key: n for (op, key), n in counter.items.items() if op == "UpdateItem" and key.startswith(prefix)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=64)
    parser.add_argument("--requests", type=int, default=4000)
    args = parser.parse_args()

    counter = DynamoDBCounter("http://127.0.0.1:9").start()
    stack = start_local_stack(ROOT / "template.yaml", Path(tempfile.mkdtemp(prefix="bench-counters-")))
    try:
        counter.forward_to(stack.moto_url)
        os.environ.update(stack.state["environment"])
        os.environ.update(
            {
                "AWS_ENDPOINT_URL_DYNAMODB": counter.url,
                "AWS_DEFAULT_REGION": stack.state["region"],
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
            }
        )
        _run(counter, stack.state["outputs"]["CountersTableName"], stack.state["region"], args)
    finally:
        stack.stop()
        counter.stop()


def _run(counter: DynamoDBCounter, table: str, region: str, args: argparse.Namespace) -> None:
    from filegate.db import bind
    from filegate.db.counters import CounterRecord
    from filegate.metering import limits
    from filegate.tiers import TIERS

    bind(CounterRecord, table, region)
    enterprise = TIERS["enterprise"]
    now = datetime.now(UTC).replace(second=1)  # one fixed window for the whole run
    print(f"{args.requests} requests from {args.threads} threads per case; embedded DynamoDB (moto) over HTTP\n")

    # 1. The tier as it is: the limit is never reached; how do writes spread?
    account = f"acct_bench_{uuid.uuid4().hex[:8]}"
    admitted, seconds = _hammer(
        args.threads, args.requests, lambda: limits.hit_rate_limit(account, enterprise, now).admitted
    )
    writes = _writes_per_item(counter, f"rate#{account}#")
    share = statistics.mean(writes.values()) / args.requests
    print(f"1. enterprise rate limit ({enterprise.requests_per_minute:,}/min over {enterprise.rate_shards} items)")
    counted = sum(limits_read(account, enterprise.rate_shards, now))
    print(f"   admitted {admitted}/{args.requests} in {seconds:.1f} s; items written {len(writes)}")
    print(f"   counted on the items {counted}" + _lost_updates(admitted, counted))
    print(
        f"   writes per item: min {min(writes.values())} mean {statistics.mean(writes.values()):.0f}"
        f" max {max(writes.values())} (even share {args.requests / enterprise.rate_shards:.0f})"
    )
    print(
        f"   at {ENTERPRISE_RPS:,} requests/s one item takes about {ENTERPRISE_RPS * share:.0f} writes/s on average,"
        f" {ENTERPRISE_RPS * max(writes.values()) / args.requests:.0f} at most (one item's limit: ~1,000)\n"
    )

    # 2. Exhaust a sharded limit: never more than the limit, however the threads race.
    limit = args.requests * 2 // 3
    tight = dataclasses.replace(enterprise, requests_per_minute=limit)
    account = f"acct_bench_{uuid.uuid4().hex[:8]}"
    admitted, seconds = _hammer(
        args.threads, args.requests, lambda: limits.hit_rate_limit(account, tight, now).admitted
    )
    writes = _writes_per_item(counter, f"rate#{account}#")
    counts = limits_read(account, tight.rate_shards, now)
    caps = [limits.shard_cap(limit, tight.rate_shards, s) for s in range(tight.rate_shards)]
    over_cap = sum(max(c - cap, 0) for c, cap in zip(counts, caps, strict=True))
    print(f"2. rate limit {limit} over {tight.rate_shards} items, {args.requests} requests")
    print(f"   admitted {admitted}; over-admissions {max(admitted - limit, 0)}; shards over their cap {over_cap}")
    print(f"   counted on the items {sum(counts)}" + _lost_updates(admitted, sum(counts)))
    print(f"   refused while some shard still had room: {max(limit - admitted, 0)} (at most 3 shards tried)")
    print(
        f"   UpdateItem calls {sum(writes.values())} for {args.requests} requests"
        f" ({sum(writes.values()) / args.requests:.2f} per request); max per item {max(writes.values())}\n"
    )

    # 3. The monthly quota, sharded, with a hard stop.
    quota = args.requests // 2
    hard = dataclasses.replace(enterprise, conversions_per_month=quota, hard_quota=True)
    account = f"acct_bench_{uuid.uuid4().hex[:8]}"

    def reserve() -> bool:
        try:
            limits.reserve_conversion(account, hard, test_mode=False, now=now)
        except Exception:  # QuotaExceeded
            return False
        return True

    admitted, seconds = _hammer(args.threads, args.requests, reserve)
    used = limits.conversions_this_month(account, now)
    print(f"3. monthly quota {quota} (hard stop) over {hard.quota_shards} items, {args.requests} reservations")
    print(f"   admitted {admitted}; counted {used}; over-admissions {max(admitted - quota, 0)}")


def _lost_updates(admitted: int, counted: int) -> str:
    """moto applies an UpdateItem as read, modify, write without a lock, so under many threads it can lose
    an increment that DynamoDB (atomic per item) never loses; such a loss shows as admitted > counted."""
    if admitted <= counted:
        return ""
    return f" (moto lost {admitted - counted} concurrent increment(s); DynamoDB's UpdateItem is atomic)"


def limits_read(account: str, shards: int, now: datetime) -> list[int]:
    from filegate.db import counters
    from filegate.metering import limits

    window = int(now.timestamp()) // 60
    ids = [limits.shard_id(f"rate#{account}#{window}", s) for s in range(shards)]
    values = counters.read_many(ids, now)
    return [values[i] for i in ids]


if __name__ == "__main__":
    main()
