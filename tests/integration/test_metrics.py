"""Business metrics in the functions' logs (EMF lines), and no empty-metrics warning on every request."""

from __future__ import annotations

import json
import time

from tests.helpers.local_api import Client, assert_error, new_account

WHO = "/v1/entitlements/me"


def _emf(log: str, name: str) -> list[dict]:
    lines = []
    for line in log.splitlines():
        start = line.find('{"_aws"')
        if start < 0:
            continue
        record = json.loads(line[start:])
        if any(m["Name"] == name for d in record["_aws"]["CloudWatchMetrics"] for m in d["Metrics"]):
            lines.append(record)
    return lines


def test_rate_limited_is_counted_and_plain_requests_publish_nothing(stack):
    account = new_account(stack, tier="free")  # 10 requests a minute
    client = Client(stack.url).with_key(account["api_key"])
    # Until refused (a minute window may roll over once meanwhile, so more than 11 may be needed).
    refused = None
    for _ in range(25):
        response = client.get(WHO)
        if response.status_code != 200:
            refused = response
            break
    assert refused is not None, "never rate limited"
    assert_error(refused, 429, "rate_limited")

    log_file = stack.log_file("KeysFunction")
    deadline = time.monotonic() + 10
    while not _emf(log_file.read_text(), "RateLimited") and time.monotonic() < deadline:
        time.sleep(0.2)  # function output reaches the log file asynchronously
    log = log_file.read_text()
    (first, *_) = _emf(log, "RateLimited")
    assert first["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "FileGate"
    assert first["service"] == "keys" and first["RateLimited"] == [1.0]
    assert "No application metrics to publish" not in log
