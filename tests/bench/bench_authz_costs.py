"""What authentication, freshness and key changes cost, per tier, in DynamoDB calls: before and after a change.

The companion of bench_authz_freshness.py (which runs the whole local gateway): here the handlers run in this
process against the embedded DynamoDB (moto server), as the service tests run them, so every figure is the
calls the code really sends (counted at the botocore clients) and the stream's stamper runs only when asked:
its work after each change is counted apart. Per tier (free, pro, enterprise: 1, 1 and 20 rate shards):

- per request: cold (the authorizer runs), cache hit with nothing changed (60 requests of one key in one
  minute; 8 on free, whose limit is 10 a minute), the first cache hit after a change and the one after it,
  and a cache hit from outside the key's allowlist;
- per change, the call itself and then the stamper: a PATCH of scopes, a PATCH to the same values, a revoke,
  a revoke of a revoked key, a rotation, revoking every key of the account (operator), a webhook secret.

    .venv/bin/python tests/bench/bench_authz_costs.py [--before DIR]

``--before DIR`` (a worktree of the code to compare with, e.g. ``git worktree add /tmp/before main``) runs
the same bench on that code in a child process and prints both, with after/before ratios. Prints, asserts
nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
TIERS = ("free", "pro", "enterprise")
STAMPER = "StamperFunction"
WHO = "/v1/entitlements/me"
CELL = 36  # wide enough for "1312 (1307) → 1312 (1307) x1.00" with room between columns


def _put_code_first(code: Path) -> None:
    """Import the product (filegate, the local stack's pieces) from ``code``; the test harness from here."""
    for path in (ROOT, code / "infra", code / "layers" / "common"):
        sys.path.insert(0, str(path))


@contextmanager
def _service_stack(code: Path) -> Iterator[Any]:
    """moto server, the template's resources and every function in-process: what tests/service runs."""
    import boto3

    from filegate_local.model import build_model
    from filegate_local.resources import Provisioner
    from filegate_local.stack import MotoServer, free_port
    from filegate_local.template import Template
    from tests.service.conftest import PARAMETER_OVERRIDES, STACK_NAME, lambda_environment
    from tests.service.harness import Functions, ServiceApi

    moto = MotoServer("127.0.0.1", free_port(), Path(tempfile.mkdtemp(prefix="bench-costs-")) / "moto.log")
    moto.start()
    try:
        template = Template(
            code / "template.yaml",
            stack_name=STACK_NAME,
            moto_endpoint=moto.url,
            parameter_overrides=PARAMETER_OVERRIDES,
        )
        os.environ.update(
            {
                "AWS_ENDPOINT_URL": moto.url,
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_DEFAULT_REGION": template.region,
                "AWS_REGION": template.region,
                "AWS_EC2_METADATA_DISABLED": "true",
            }
        )
        Provisioner(template, moto.url).provision()
        model = build_model(template)
        environments = {
            logical_id: lambda_environment(spec, template.region, moto.url)
            for logical_id, spec in model.functions.items()
        }
        functions = Functions(model, environments)
        for logical_id in model.functions:
            functions.module(logical_id)  # cold starts up front (each binds its tables), as tests/service does

        def client(service: str) -> Any:
            return boto3.client(service, endpoint_url=moto.url, region_name=template.region)

        yield ServiceApi(
            model,
            functions,
            api="Api",
            region=template.region,
            sqs=client("sqs"),
            parameters=template.parameters,
            dynamodb=client("dynamodb"),
            streams=client("dynamodbstreams"),
        )
    finally:
        moto.stop()


class Costs:
    """Calls (and writes) per phase and tier: a request's mean, or one change and the stamper after it."""

    def __init__(self, api: Any) -> None:
        self.api = api
        self.figures: dict[str, dict[str, list[float]]] = {}

    def _add(self, phase: str, tier: str, calls: float, writes: float) -> None:
        self.figures.setdefault(phase, {})[tier] = [round(calls, 2), round(writes, 2)]

    def requests(self, phase: str, tier: str, make: Callable[[], int], times: int = 1) -> None:
        """A request's mean, its route's own work left out (GET /v1/entitlements/me's one BatchGetItem of the
        month's usage): what authentication, freshness and metering cost."""
        from tests.service.races import dynamodb_calls

        with dynamodb_calls() as counted:
            for _ in range(times):
                make()
        calls = [c for c in counted.calls if c.operation != "BatchGetItem"]
        self._add(phase, tier, len(calls) / times, len(counted.writes()) / times)

    def change(self, phase: str, tier: str, make: Callable[[], Any]) -> None:
        """The change call, then the stamper's run over what the stream has of it (counted apart)."""
        from tests.service.races import dynamodb_calls

        self.api.run_streams(STAMPER)  # what came before is not this change's
        with dynamodb_calls() as counted:
            make()
        self._add(phase, tier, len(counted.calls), len(counted.writes()))
        with dynamodb_calls() as stamper:
            self.api.run_streams(STAMPER)
        self._add(phase + " · stamper after", tier, len(stamper.calls), len(stamper.writes()))


def _measure(api: Any) -> dict[str, dict[str, list[float]]]:
    from tests.service.races import StamperClock

    clock = StamperClock()  # the stamper's wait for a change's caller takes no time here
    stamper = api.functions.module(STAMPER)
    stamper.clock, stamper.wait = clock.now, clock.wait
    costs = Costs(api)
    for tier in TIERS:
        _measure_tier(costs, tier)
    return costs.figures


def _measure_tier(costs: Costs, tier: str) -> None:
    from filegate.accounts import service as account_service
    from tests.service.helpers import _cache_horizon, sign_up
    from tests.service.races import context_of, served

    api = costs.api
    account = sign_up(api, tier)
    subject = account.create_key(name="subject", scopes=["files:read", "convert:write", "keys:manage"])
    spare = account.create_key(name="spare", scopes=["files:read"])
    fenced = account.create_key(name="fenced", scopes=["files:read"], allowed_ips=["192.0.2.1"])
    hits = 6 if tier == "free" else 60  # within the tier's minute: a refused request is another story
    _wait_for_a_fresh_minute(always=tier == "free")

    costs.requests("cold: the authorizer runs", tier, lambda: account.call("GET", WHO, key=subject["api_key"]).status)
    cached = context_of(account, subject["api_key"])
    costs.requests("cache hit, nothing changed", tier, lambda: served(account, subject["api_key"], cached).status, hits)
    outsider = context_of(account, fenced["api_key"], "198.51.100.200")
    costs.requests(
        "cache hit from outside the allowlist",
        tier,
        lambda: served(account, fenced["api_key"], outsider, "198.51.100.200").status,
        hits,
    )
    _wait_for_a_fresh_minute(always=tier == "free")  # a new minute of the rate limit: no change is refused
    served(account, subject["api_key"], cached)  # its last use of this minute recorded: not counted below
    path = f"/v1/keys/{subject['key_id']}"
    narrow = {"scopes": ["files:read"]}
    costs.change("PATCH scopes", tier, lambda: account.call("PATCH", path, json_body=narrow))
    costs.requests("cache hit, stamp changed", tier, lambda: served(account, subject["api_key"], cached).status)
    costs.requests("cache hit, the request after", tier, lambda: served(account, subject["api_key"], cached).status)
    costs.change("PATCH to the same values", tier, lambda: account.call("PATCH", path, json_body=narrow))
    rotate = f"/v1/keys/{spare['key_id']}/rotate"
    costs.change("rotate (grace 0)", tier, lambda: account.call("POST", rotate, json_body={}))
    costs.change("DELETE (revoke)", tier, lambda: account.call("DELETE", path))
    costs.change("DELETE of a revoked key", tier, lambda: account.call("DELETE", path))
    if tier != "free":
        costs.change("webhook secret", tier, lambda: account.call("POST", "/v1/webhooks/secret"))
    horizon = _cache_horizon(api)
    costs.change(
        "revoke every key (operator)",
        tier,
        lambda: account_service.revoke_all_keys(account.account_id, now=datetime.now(UTC), horizon=horizon),
    )


def _wait_for_a_fresh_minute(*, always: bool = False) -> None:
    """Start a phase early in a minute, so its requests and changes fall in one rate window (``always``: in
    a minute of its own, for the free tier's 10 requests)."""
    import time

    second = datetime.now(UTC).second
    if always or second > 15:
        time.sleep(60 - second + 1)


def _run(code: Path) -> dict[str, dict[str, list[float]]]:
    """The figures of ``code``; the functions' own log lines (on stdout, as in Lambda) go to /dev/null."""
    _put_code_first(code)
    sys.stdout.flush()
    saved = os.dup(1)
    quiet = os.open(os.devnull, os.O_WRONLY)
    os.dup2(quiet, 1)
    try:
        with _service_stack(code) as api:
            return _measure(api)
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(quiet)
        os.close(saved)


def _print(after: dict[str, dict[str, list[float]]], before: dict[str, dict[str, list[float]]] | None) -> None:
    head = "DynamoDB calls (writes)"
    columns = "".join(f"{tier:>{CELL}}" for tier in TIERS)
    print(f"{head:<46}{columns}")
    if before is not None:
        print(f"{'':<46}" + "".join(f"{'before → after (ratio)':>{CELL}}" for _ in TIERS))
    for phase, by_tier in after.items():
        cells = []
        for tier in TIERS:
            now_ = by_tier.get(tier)
            if now_ is None:
                cells.append(f"{'—':>{CELL}}")
                continue
            text = f"{now_[0]:g} ({now_[1]:g})"
            if before is not None:
                was = (before.get(phase) or {}).get(tier)
                if was is None:
                    text = f"— → {text}"
                else:
                    ratio = f"x{now_[0] / was[0]:.2f}" if was[0] else "—"
                    text = f"{was[0]:g} ({was[1]:g}) → {text} {ratio}"
            cells.append(f"{text:>{CELL}}")
        print(f"{phase:<46}" + "".join(cells))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--code", type=Path, default=ROOT, help="the tree whose code is measured")
    parser.add_argument("--before", type=Path, help="a tree to compare with (run in a child process)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON only")
    args = parser.parse_args()
    child = None
    if args.before is not None:  # measured meanwhile, in a process (and an embedded DynamoDB) of its own
        child = subprocess.Popen(
            [sys.executable, __file__, "--code", str(args.before), "--json"],
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": ""},
        )
    after = _run(args.code)
    before = None
    if child is not None:
        out, _ = child.communicate()
        if child.returncode != 0:
            raise SystemExit(f"the run on {args.before} failed ({child.returncode})")
        before = json.loads(out.strip().splitlines()[-1])
    if args.json:
        print(json.dumps(after))
        return
    print(f"measured: {args.code}" + (f", compared with {args.before}" if args.before else ""))
    _print(after, before)


if __name__ == "__main__":
    main()
