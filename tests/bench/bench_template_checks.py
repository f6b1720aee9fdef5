"""What each offline check of `make template` costs on template.yaml: cfn-lint (the baseline), `sam validate
--lint`, and checkov with infra/checkov.yaml. Prints seconds (median of the runs) and the ratio to cfn-lint;
asserts nothing. Needs `make sam-venv checkov-venv` first.

    .venv/bin/python tests/bench/bench_template_checks.py [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# As the Makefile's `template` target: a region, dummy credentials, nothing that reaches for AWS.
OFFLINE = {
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_CONFIG_FILE": "/dev/null",
    "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
    "SAM_CLI_TELEMETRY": "0",
}
CHECKS = {
    "cfn-lint": [".venv-sam/bin/cfn-lint", "template.yaml"],
    "sam validate --lint": [
        ".venv-sam/bin/sam",
        "validate",
        "--lint",
        "--region",
        "us-east-1",
        "--template-file",
        "template.yaml",
    ],
    "checkov": [
        ".venv-checkov/bin/checkov",
        "--skip-download",
        "--config-file",
        "infra/checkov.yaml",
        "--file",
        "template.yaml",
    ],
}


def seconds(command: list[str]) -> float:
    environment = {k: v for k, v in os.environ.items() if k != "AWS_PROFILE"} | OFFLINE
    started = time.monotonic()
    run = subprocess.run(command, cwd=ROOT, env=environment, capture_output=True, text=True, check=False)
    elapsed = time.monotonic() - started
    if run.returncode != 0:
        raise SystemExit(f"{command[0]} failed:\n{run.stdout}{run.stderr}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    missing = [c[0] for c in CHECKS.values() if not (ROOT / c[0]).exists()]
    if missing:
        raise SystemExit(f"missing {missing}: run `make sam-venv checkov-venv` first")
    medians = {name: statistics.median(seconds(command) for _ in range(args.runs)) for name, command in CHECKS.items()}
    baseline = medians["cfn-lint"]
    print(f"template.yaml: {len((ROOT / 'template.yaml').read_text().splitlines())} lines, {args.runs} runs each")
    print(f"{'check':<22}{'median s':>10}{'x cfn-lint':>12}")
    for name, value in medians.items():
        print(f"{name:<22}{value:>10.1f}{value / baseline:>12.2f}")


if __name__ == "__main__":
    main()
