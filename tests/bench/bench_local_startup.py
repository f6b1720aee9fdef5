"""How long `filegate-local` takes to start (until stack.json says it is up) and to stop on SIGTERM,
with the project's template.yaml on free ports. Prints figures; asserts nothing.

    .venv/bin/python tests/bench/bench_local_startup.py [--runs 3] [--infra DIR]

`--infra` points at another copy of the `infra/` folder (e.g. an older filegate_local, exported with
`git archive <commit> infra | tar -x -C /tmp/old`) to compare two versions on the same machine.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def one_run(infra: Path) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as state_dir:
        state_file = Path(state_dir) / "stack.json"
        command = [
            sys.executable, "-m", "filegate_local", "--template", str(ROOT / "template.yaml"),
            "--port", "0", "--moto-port", "0", "--state-dir", state_dir, "--no-echo-logs",
        ]  # fmt: skip
        env = {**os.environ, "PYTHONPATH": str(infra)}
        started = time.monotonic()
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        try:
            while not state_file.exists():
                if process.poll() is not None:
                    raise SystemExit(f"filegate-local exited with {process.returncode}")
                time.sleep(0.02)
            url = json.loads(state_file.read_text())["api_url"]
            with contextlib.suppress(urllib.error.HTTPError):  # the template's 404: the gateway answers
                urllib.request.urlopen(f"{url}/v1/no-such-route", timeout=10)
            up = time.monotonic() - started
            stopping = time.monotonic()
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)
            return up, time.monotonic() - stopping
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--infra", type=Path, default=ROOT / "infra")
    args = parser.parse_args()
    package = args.infra / "filegate_local"
    lines = sum(len(p.read_text().splitlines()) for p in package.glob("*.py"))
    print(f"{package}: {lines} lines in *.py")
    runs = [one_run(args.infra) for _ in range(args.runs)]
    for index, (up, down) in enumerate(runs, 1):
        print(f"run {index}: up in {up:.2f} s, stopped in {down:.2f} s")
    print(
        f"median of {len(runs)}: up in {statistics.median(r[0] for r in runs):.2f} s, "
        f"stopped in {statistics.median(r[1] for r in runs):.2f} s"
    )


if __name__ == "__main__":
    main()
