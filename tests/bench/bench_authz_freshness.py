"""Authorization at scale: what a request costs when keys change all around it, through the local gateway.

N accounts make traffic with cached authorizer answers (TTL 3600, the template default) while other
accounts create, narrow, rotate and revoke keys. DynamoDB is reached through a counting proxy, so the
figures are the calls the code really makes. Prints, and asserts nothing:

- DynamoDB calls per request: cold (authorizer runs), cache hit, stamp changed (the subject key changed
  just before) and the request after that one;
- DynamoDB calls per change (a PATCH of scopes, a revoke): the stamping a change pays, by operation;
- authorizer invocations while other accounts churn keys (a cached account should cause none);
- FlushStageAuthorizersCache calls seen by the gateway (must be 0).

    .venv/bin/python tests/bench/bench_authz_freshness.py [--accounts 20] [--rounds 5] [--churn 30]

The same costs per tier (free, pro, enterprise) and per kind of change, with the stream stamper's work
counted apart and compared with another version of the code: bench_authz_costs.py.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
for path in (ROOT, ROOT / "infra"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from filegate_local.stack import LocalStack  # noqa: E402
from tests.bench._dynamodb_counter import DynamoDBCounter  # noqa: E402
from tests.helpers.local_api import Client, new_account  # noqa: E402
from tests.helpers.local_stack import start_local_stack  # noqa: E402

WHO = "/v1/entitlements/me"
SUBJECT_SCOPES = (["files:read", "convert:write"], ["files:read", "files:write"])
AUTHORIZER = "AuthorizerFunction"


def _authz_calls(delta: Counter[tuple[str, str]]) -> int:
    """Calls of authentication, authorization and metering (the handler's own BatchGetItem left out)."""
    return sum(n for (operation, _), n in delta.items() if operation != "BatchGetItem")


class Meter:
    def __init__(self, counter: DynamoDBCounter) -> None:
        self.counter = counter
        self.samples: dict[str, list[int]] = {}
        self.breakdown: dict[str, Counter[tuple[str, str]]] = {}

    def measure(self, phase: str, call: Callable[[], int]) -> int:
        before = self.counter.snapshot()
        result = call()
        delta = self.counter.snapshot() - before
        self.samples.setdefault(phase, []).append(_authz_calls(delta))
        self.breakdown.setdefault(phase, Counter()).update(delta)
        return result

    def report(self) -> None:
        print(f"{'DynamoDB calls per request':<34}{'requests':>9}{'mean':>7}{'max':>5}  breakdown (op table: calls)")
        for phase, values in self.samples.items():
            parts = ", ".join(
                f"{op} {table.split('-')[-1] or '(batch)'}: {n}"
                for (op, table), n in sorted(self.breakdown[phase].items())
            )
            mean = sum(values) / len(values)
            print(f"{phase:<34}{len(values):>9}{mean:>7.2f}{max(values):>5}  {parts}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--accounts", type=int, default=20, help="accounts making traffic")
    parser.add_argument("--rounds", type=int, default=5, help="cache-hit requests per account")
    parser.add_argument("--churn", type=int, default=30, help="key changes made by other accounts")
    parser.add_argument("--workers", type=int, default=2, help="warm containers per function")
    args = parser.parse_args()

    counter = DynamoDBCounter("http://127.0.0.1:9")  # upstream set once moto is up
    counter.start()
    state_dir = Path(tempfile.mkdtemp(prefix="bench-authz-"))
    stack = start_local_stack(
        ROOT / "template.yaml",
        state_dir,
        environment={"AWS_ENDPOINT_URL_DYNAMODB": counter.url},
        workers_per_function=args.workers,
    )
    try:
        counter.forward_to(stack.moto_url)
        _run(stack, counter, args)
    finally:
        stack.stop()
        counter.stop()


def _run(stack: LocalStack, counter: DynamoDBCounter, args: argparse.Namespace) -> None:
    url = stack.url
    meter = Meter(counter)
    print(f"local gateway {url}, authorizer cache TTL {stack.state['parameters']['AuthorizerCacheTtl']} s")
    subjects = []
    for _ in range(args.accounts):
        account = new_account(stack)
        master = Client(url, account["api_key"])
        subject = master.post("/v1/keys", json={"name": "subject", "scopes": SUBJECT_SCOPES[0]}).json()
        subjects.append((master, subject, Client(url, subject["api_key"])))

    for _, _, client in subjects:
        status = meter.measure("cold (authorizer runs)", lambda c=client: c.get(WHO).status_code)
        assert status == 200, status
    for _ in range(args.rounds):
        for _, _, client in subjects:
            meter.measure("cache hit, nothing changed", lambda c=client: c.get(WHO).status_code)
    for i, (master, subject, client) in enumerate(subjects):
        scopes = SUBJECT_SCOPES[(i + 1) % 2]
        meter.measure(
            "change: PATCH scopes (whole call)",
            lambda m=master, s=subject, sc=scopes: m.patch(f"/v1/keys/{s['key_id']}", json={"scopes": sc}).status_code,
        )
        meter.measure("cache hit, stamp changed", lambda c=client: c.get(WHO).status_code)
        meter.measure("cache hit, the request after", lambda c=client: c.get(WHO).status_code)

    # Churn: other accounts change keys while the subjects' answers are cached.
    churners = [Client(url, new_account(stack)["api_key"]) for _ in range(4)]
    for churner in churners:
        churner.get(WHO)  # their own answers cached too
    invocations_before = stack.invocations(AUTHORIZER)
    changes = 0
    stop = threading.Event()

    def churn() -> None:
        nonlocal changes
        while not stop.is_set() and changes < args.churn:
            churner = churners[changes % len(churners)]
            key = churner.post("/v1/keys", json={"name": "churn", "scopes": ["files:read"]}).json()
            churner.patch(f"/v1/keys/{key['key_id']}", json={"scopes": ["files:write"]})
            churner.post(f"/v1/keys/{key['key_id']}/rotate", json={"grace_seconds": 30})
            churner.delete(f"/v1/keys/{key['key_id']}")
            changes += 3

    started = time.monotonic()
    worker = threading.Thread(target=churn)
    worker.start()
    statuses: Counter[int] = Counter()
    while worker.is_alive():
        for _, _, client in subjects:
            statuses[client.get(WHO).status_code] += 1
    stop.set()
    worker.join()
    elapsed = time.monotonic() - started
    invocations = stack.invocations(AUTHORIZER) - invocations_before
    gateway_log = (stack.log_dir / "gateway.log").read_text()
    flushes = gateway_log.count("cache/authorizers")
    for master, subject, _ in subjects[:5]:
        meter.measure(
            "change: DELETE key (whole call)",
            lambda m=master, s=subject: m.delete(f"/v1/keys/{s['key_id']}").status_code,
        )

    print()
    meter.report()
    print()
    print(f"churn: {changes} key changes (narrow, rotate, revoke) by {len(churners)} other accounts in {elapsed:.1f} s")
    print(
        f"       meanwhile {sum(statuses.values())} requests of the {args.accounts} cached accounts: {dict(statuses)}"
    )
    print(f"authorizer invocations during churn: {invocations}")
    print(f"FlushStageAuthorizersCache calls seen by the gateway (whole run): {flushes}")
    print(f"authorizer invocations (whole run): {stack.invocations(AUTHORIZER)}")


if __name__ == "__main__":
    main()
