"""Cold-start proxy: import time of each handler module, as a ratio to `import boto3` alone.

Each figure is the median of N fresh interpreters (python -c "import …"), measured inside the child with
perf_counter around the import, so interpreter start-up is excluded. Prints figures; asserts nothing.

    .venv/bin/python tests/bench/bench_cold_start.py [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS = ROOT / "functions"
# The environment a deployed function gets from the template (values are irrelevant to import cost).
ENV = {
    "ACCOUNTS_TABLE": "accounts",
    "KEYS_TABLE": "keys",
    "COUNTERS_TABLE": "counters",
    "EMAILS_TABLE": "emails",
    "FILES_TABLE": "files",
    "CONVERSIONS_TABLE": "conversions",
    "WEBHOOKS_TABLE": "webhooks",
    "WEBHOOK_SECRETS_TABLE": "webhook-secrets",
    "WEBHOOK_DELIVERIES_TABLE": "webhook-deliveries",
    "IDEMPOTENCY_TABLE": "idempotency",
    "BUCKET": "bucket",
    "CONVERSIONS_QUEUE_URL": "http://127.0.0.1:9/queue/conversions",
    "WEBHOOKS_QUEUE_URL": "http://127.0.0.1:9/queue/webhooks",
    "WEBHOOK_DEAD_LETTER_QUEUE_URL": "http://127.0.0.1:9/queue/webhooks-dlq",
    "WEBHOOK_MAX_RECEIVES": "5",
    "AWS_DEFAULT_REGION": "us-east-1",
    "POWERTOOLS_SERVICE_NAME": "bench",
    "POWERTOOLS_TRACE_DISABLED": "true",
}

TIMER = (
    "import time, sys, importlib.util as u\n"
    "t = time.perf_counter()\n"
    "{body}\n"
    "sys.stdout.write(repr(time.perf_counter() - t))\n"
)


def _time(body: str, code_dir: Path | None, runs: int) -> float:
    env = {**os.environ, **ENV}
    paths = [str(ROOT / "layers" / "common")]
    if code_dir is not None:
        paths.insert(0, str(code_dir))
    env["PYTHONPATH"] = os.pathsep.join(paths)
    samples = []
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", TIMER.format(body=body)],
            env=env,
            cwd=code_dir or ROOT,
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        )
        samples.append(float(out.stdout.strip().splitlines()[-1]))
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    baseline = _time("import boto3", None, args.runs)
    print(f"cold-start proxy: median import time of {args.runs} fresh interpreters")
    print(f"{'module':<28}{'ms':>9}{'x boto3':>10}")
    print(f"{'import boto3 (baseline)':<28}{baseline * 1000:>9.1f}{1.0:>10.2f}")
    for folder in sorted(p for p in FUNCTIONS.iterdir() if (p / "app.py").exists()):
        seconds = _time("import app", folder, args.runs)
        print(f"{'functions/' + folder.name + '/app':<28}{seconds * 1000:>9.1f}{seconds / baseline:>10.2f}")
    print("target: authorizer <= 1.5x; FastAPI functions run with SnapStart (import paid at publish time)")


if __name__ == "__main__":
    main()
