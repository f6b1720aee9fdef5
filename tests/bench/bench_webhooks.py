"""Webhook figures: signing cost per delivery, and deliveries per second to a local receiver.

    .venv/bin/python tests/bench/bench_webhooks.py [--deliveries 500] [--threads 8] [--max-seconds 20]

The receiver is http.server (threaded) on 127.0.0.1 in a child process, so it does not share this process's
GIL with the client; it reads the body and answers 200, and is stopped at the end. Deliveries go through the
real path (``vet_and_deliver``: policy check, pinned connection, watchdog) with the local-stack loopback flag.
Every delivery is a new TCP connection, as in production (``Connection: close``), so the figures are
per-connection costs on loopback, not network ones; the single-process Python receiver is usually the limit
of the thread-pool figure.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from filegate.webhooks import events
from filegate.webhooks.delivery import DeliveryResult, vet_and_deliver
from filegate.webhooks.signing import build_message, build_webhook, generate_secret, sign_headers
from filegate.webhooks.verify import verify

DATA = {
    "id": "cnv_01hzyexamplexexamplexexample",
    "status": "succeeded",
    "source_file_id": "file_01hzyexamplexexamplexexample",
    "output_file_id": "file_01hzyexamplexexamplexexamplf",
    "target": "webp",
    "error": None,
    "created_at": "2025-01-01T00:00:00Z",
    "completed_at": "2025-01-01T00:00:02Z",
    "metadata": {"note": "x" * 600},  # ~1 KB body, a typical event with some caller metadata
}


def per_call_us(fn: Callable[[], object], calls: int = 200, batches: int = 100) -> float:
    """Median over ``batches`` of the mean time per call within a batch, in microseconds."""
    fn()  # warm up
    samples = []
    for _ in range(batches):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        samples.append((time.perf_counter() - start) / calls * 1e6)
    return statistics.median(samples)


def bench_signing() -> None:
    one, two = [generate_secret()], [generate_secret(), generate_secret()]
    message, headers = build_webhook(events.CONVERSION_SUCCEEDED, DATA, one)
    figures = {
        "sign_headers, 1 secret (one attempt)": lambda: sign_headers(message, one),
        "sign_headers, 2 secrets (rotation)": lambda: sign_headers(message, two),
        "build_message (id + JSON)": lambda: build_message(events.CONVERSION_SUCCEEDED, DATA),
        "build_webhook (id + JSON + sign)": lambda: build_webhook(events.CONVERSION_SUCCEEDED, DATA, one),
        "verify (receiver side)": lambda: verify(message.body, headers, one[0]),
    }
    print(f"signing (body {len(message.body)} bytes; median of 100 batches x 200 calls)")
    for label, fn in figures.items():
        print(f"  {label:<40} {per_call_us(fn):7.1f} us")


RECEIVER = """
import http.server, sys

class Ok(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Ok)
server.daemon_threads = True
print(server.server_address[1], flush=True)
server.serve_forever()
"""


def run_batch(url: str, count: int, threads: int, max_seconds: float) -> tuple[list[DeliveryResult], float]:
    secret = [generate_secret()]
    deadline = time.monotonic() + max_seconds

    def one(_: int) -> DeliveryResult | None:
        if time.monotonic() > deadline:
            return None  # bounded in time as well as count
        message, headers = build_webhook(events.CONVERSION_SUCCEEDED, DATA, secret)
        return vet_and_deliver(url, message.body, headers, allow_insecure_loopback=True, timeout=5.0)

    start = time.perf_counter()
    if threads <= 1:
        results = [one(i) for i in range(count)]
    else:
        with ThreadPoolExecutor(max_workers=threads) as pool:
            results = list(pool.map(one, range(count)))
    elapsed = time.perf_counter() - start
    return [r for r in results if r is not None], elapsed


def report(label: str, results: list[DeliveryResult], elapsed: float) -> None:
    ok = sum(r.ok for r in results)
    latencies = sorted(r.latency_ms for r in results)
    p50 = statistics.median(latencies) if latencies else float("nan")
    p95 = latencies[int(len(latencies) * 0.95) - 1] if latencies else float("nan")
    rate = len(results) / elapsed if elapsed else float("nan")
    print(
        f"  {label:<22} {len(results):5d} sent, {ok:5d} ok in {elapsed:6.2f} s = {rate:7.0f}/s"
        f"   latency p50 {p50:6.2f} ms  p95 {p95:6.2f} ms"
    )


def bench_delivery(count: int, threads: int, max_seconds: float) -> None:
    receiver = subprocess.Popen([sys.executable, "-c", RECEIVER], stdout=subprocess.PIPE, text=True)
    try:
        assert receiver.stdout is not None
        port = int(receiver.stdout.readline())
        url = f"http://127.0.0.1:{port}/hook"
        print(f"delivery to a 127.0.0.1 http.server receiver in a child process (N={count}, max {max_seconds:g} s)")
        report("sequential", *run_batch(url, count, 1, max_seconds))
        report(f"thread pool of {threads}", *run_batch(url, count, threads, max_seconds))
    finally:
        receiver.terminate()
        receiver.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=500)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--max-seconds", type=float, default=20.0)
    args = parser.parse_args()
    bench_signing()
    bench_delivery(max(1, min(args.deliveries, 10_000)), max(1, min(args.threads, 64)), args.max_seconds)


if __name__ == "__main__":
    main()
