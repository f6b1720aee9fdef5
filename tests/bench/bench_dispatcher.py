"""Dispatcher figures: deliveries per second from dispatcher invocation batches, data layer included.

    .venv/bin/python tests/bench/bench_dispatcher.py [--batches 20] [--batch-size 10]

Runs the real ``webhooks.dispatch.process_batch`` (what the dispatcher's handler calls) against moto server
in this process (DynamoDB + SQS over HTTP, as on the local stack) and an http.server receiver on 127.0.0.1
in a child process. Per delivery that is: GetItem delivery, GetItem endpoint, GetItem secret, sign,
re-vet, POST, UpdateItem. The figures are loopback + moto costs (moto is much slower than DynamoDB), so
read them as "the dispatcher's own overhead is small", not as production throughput.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_webhooks import RECEIVER  # the same minimal receiver as the delivery bench


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=10)
    args = parser.parse_args()

    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)

    port = _free_port()
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    moto.start()
    os.environ.update(
        {
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "POWERTOOLS_LOG_LEVEL": "WARNING",  # one log line per delivery would be most of the output
        }
    )
    receiver = subprocess.Popen([sys.executable, "-c", RECEIVER], stdout=subprocess.PIPE, text=True)
    try:
        assert receiver.stdout is not None
        url = f"http://127.0.0.1:{int(receiver.stdout.readline())}/hook"
        run(url, args.batches, args.batch_size)
    finally:
        receiver.terminate()
        receiver.wait(timeout=10)
        moto.stop()


def run(url: str, batches: int, batch_size: int) -> None:
    from filegate import aws
    from filegate.db import bind_tables
    from filegate.db import webhooks as store
    from filegate.settings import DispatcherSettings
    from filegate.webhooks.dispatch import QueuedAttempt, dispatch, process_batch
    from filegate.webhooks.emitting import emit_one as _emit_one
    from filegate.webhooks.signing import generate_secret

    sqs = aws.client("sqs")
    queue = sqs.create_queue(QueueName="bench-webhooks")["QueueUrl"]
    dlq = sqs.create_queue(QueueName="bench-webhooks-dlq")["QueueUrl"]
    settings = DispatcherSettings(
        webhooks_table="bench-webhooks",
        webhook_secrets_table="bench-webhook-secrets",
        webhook_deliveries_table="bench-webhook-deliveries",
        webhooks_queue_url=queue,
        webhook_dead_letter_queue_url=dlq,
        webhook_max_receives=5,
        egress_allow_insecure_loopback=True,
    )
    bind_tables(settings)
    for model in (store.WebhookRecord, store.WebhookSecretRecord, store.DeliveryRecord):
        model.create_table(billing_mode="PAY_PER_REQUEST", wait=True)
    now = datetime.now(UTC)
    store.put_secret(
        store.WebhookSecretRecord("acct_bench", current=generate_secret(), created_at=now, first_created_at=now),
        expected_current=None,
    )
    store.create_webhook(
        store.WebhookRecord("acct_bench", "wh_bench", url=url, events=["conversion.succeeded"], created_at=now)
    )

    def new_batch(index: int) -> list[dict[str, Any]]:
        records = []
        for item in range(batch_size):
            delivery = _emit_one(
                settings,
                account_id="acct_bench",
                webhook_id="wh_bench",
                url=url,
                event_type="conversion.succeeded",
                data={"id": f"conv_{index}_{item}", "status": "succeeded", "note": "x" * 600},
                occurred_at=now,
                source_id=f"bench_{index}_{item}_{time.time_ns()}",
                conversion_id=None,
                now=now,
            )
            assert delivery is not None
            body = json.dumps({"delivery_id": delivery.delivery_id, "attempt": 1, "not_before": 0})
            records.append({"messageId": delivery.delivery_id, "body": body, "attributes": {}})
        return records

    # One delivery alone, for the per-delivery breakdown.
    single = new_batch(-1)[0]
    started = time.perf_counter()
    assert dispatch(QueuedAttempt.parse(single["body"]), settings) == "succeeded"
    one_ms = (time.perf_counter() - started) * 1000

    prepared = [new_batch(i) for i in range(batches)]
    timings = []
    for records in prepared:
        started = time.perf_counter()
        failed = process_batch({"Records": records}, settings)["batchItemFailures"]
        timings.append(time.perf_counter() - started)
        assert not failed, failed
    total = sum(timings)
    delivered = batches * batch_size
    print(f"dispatcher batches against moto server + a 127.0.0.1 receiver ({batches} batches of {batch_size})")
    print(f"  one delivery, sequential path          {one_ms:7.1f} ms (3 GetItem, sign, vet, POST, UpdateItem)")
    print(
        f"  batch of {batch_size}, parallel            median {statistics.median(timings) * 1000:7.1f} ms"
        f"   p max {max(timings) * 1000:7.1f} ms"
    )
    print(
        f"  throughput                             {delivered / total:7.0f} deliveries/s ({delivered} in {total:.2f} s)"
    )


if __name__ == "__main__":
    main()
