"""Cold-start proxy: import time of each handler module, as a ratio to `import boto3` alone; and the image
engine's import against pyvips' own, from `python -X importtime`.

Each handler figure is the median of N fresh interpreters (python -c "import …"), measured inside the child
with perf_counter around the import, so interpreter start-up is excluded. The image engine's figures are
medians of N `python -X importtime -c "import …"` (cumulative microseconds per module): the engine in all,
what of it is pyvips, what is the shared filegate.engines package (the interface, formats, tiers), and the
image modules' own rest; against `import pyvips` alone, interleaved with it; and both again after `import
boto3`, which every function does first. Then whole fresh processes converting a progressive JPEG to 1600 px
(first_photo): pyvips, pyvips after the shared package's import, the engine. Prints figures; asserts nothing.

    .venv/bin/python tests/bench/bench_cold_start.py [--runs 5] [--only engine|first-photo]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
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


def _importtime(module: str, after: str = "") -> dict[str, int]:
    """Cumulative import microseconds of every module `import module` loads, in one fresh interpreter (where
    `after` was imported first: what it loaded already costs `module` nothing)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "layers" / "common")}
    first = f"import {after}; " if after else ""
    run = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"{first}import {module}"],
        env=env, capture_output=True, text=True, check=True, timeout=120,
    )  # fmt: skip
    cumulative: dict[str, int] = {}
    for line in run.stderr.splitlines():
        parts = [part.strip() for part in line.removeprefix("import time:").split("|")]
        if len(parts) == 3 and parts[1].isdigit():
            cumulative[parts[2]] = int(parts[1])
    return cumulative


def engine_imports(runs: int) -> None:
    """The image engine's import against pyvips' own (what a fresh process pays before its first photo)."""
    engine, alone, engine_after, alone_after = [], [], [], []
    for _ in range(runs):  # interleaved: a load spike hits all
        engine.append(_importtime("filegate.engines.image.engine"))
        alone.append(_importtime("pyvips"))
        engine_after.append(_importtime("filegate.engines.image.engine", after="boto3"))
        alone_after.append(_importtime("pyvips", after="boto3"))

    def median(samples: list[dict[str, int]], module: str) -> float:
        return statistics.median(sample.get(module, 0) for sample in samples) / 1000

    total, vips = median(engine, "filegate.engines.image.engine"), median(engine, "pyvips")
    shared, baseline = median(engine, "filegate.engines"), median(alone, "pyvips")
    print(f"\nimage engine import (python -X importtime, median of {runs}), ms")
    print(f"  {'filegate.engines.image.engine':<44}{total:>8.1f}{total / baseline:>8.2f} x pyvips")
    print(f"  {'  of which pyvips':<44}{vips:>8.1f}")
    print(f"  {'  of which filegate.engines (shared package)':<44}{shared:>8.1f}")
    print(f"  {'  the image modules own rest':<44}{total - vips - shared:>8.1f}")
    print(f"  {'import pyvips alone (baseline)':<44}{baseline:>8.1f}{1.0:>8.2f}")
    # In a function (worker, mediaworker) boto3 is imported first, and with it the standard library the shared
    # package uses (dataclasses and inspect, pathlib, logging, enum, ...): the engine's own share is this.
    total_after, baseline_after = (
        median(engine_after, "filegate.engines.image.engine"),
        median(alone_after, "pyvips"),
    )
    print(f"  {'after import boto3: the engine':<44}{total_after:>8.1f}{total_after / baseline_after:>8.2f} x pyvips")
    print(f"  {'after import boto3: pyvips (baseline)':<44}{baseline_after:>8.1f}{1.0:>8.2f}")
    loaded = set(engine[-1])
    pillow = sorted(m for m in loaded if m == "PIL" or m.startswith("PIL."))
    print(f"  Pillow loaded by the import: {', '.join(pillow) or 'no'}")


# A fresh process converting one progressive JPEG to 1600 px (bench_engine.py's input): pyvips alone, pyvips
# after importing the engine's shared package (what the engine imports besides pyvips and its own modules),
# and the engine. Where the second matches the third, the engine's extra cost over pyvips is that import.
_FIRST_PHOTO = {
    "pyvips": "",
    "pyvips after import filegate.engines": "import filegate.engines; ",
}
_PYVIPS_WORK = (
    "import pyvips; pyvips.cache_set_max(0); "
    "pyvips.Image.thumbnail({src!r}, 1600, height=100000).jpegsave({dst!r}, Q=80, optimize_coding=True)"
)
_ENGINE_WORK = (
    "from filegate.engines.image.engine import convert; from filegate.formats.options import ImageOptions; "
    "open({dst!r}, 'wb').write(convert(open({src!r}, 'rb').read(), 'jpg', ImageOptions(quality=80, width=1600)).data)"
)


def first_photo(runs: int) -> None:
    """Whole fresh processes (wall, and CPU from wait4), interleaved; ratios to pyvips alone."""
    import tempfile

    import bench_engine

    subprocess.run([sys.executable, bench_engine.__file__, "--prepare"], check=True)
    src = str(bench_engine.CACHE / "source-12mp.progressive.jpg")
    env = {**os.environ, "PYTHONPATH": str(ROOT / "layers" / "common")}
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in (*_FIRST_PHOTO, "engine")}
    with tempfile.TemporaryDirectory() as tmp:
        dst = str(Path(tmp) / "out.jpg")
        codes = {name: first + _PYVIPS_WORK.format(src=src, dst=dst) for name, first in _FIRST_PHOTO.items()}
        codes["engine"] = _ENGINE_WORK.format(src=src, dst=dst)
        for _ in range(runs):
            for name, code in codes.items():
                start = time.perf_counter()
                child = subprocess.Popen([sys.executable, "-c", code], env=env)
                _pid, status, usage = os.wait4(child.pid, 0)
                if status != 0:
                    raise SystemExit(f"{name}: exit status {status}")
                samples[name].append((time.perf_counter() - start, usage.ru_utime + usage.ru_stime))
    wall = {name: statistics.median(w for w, _ in values) for name, values in samples.items()}
    cpu = {name: statistics.median(c for _, c in values) for name, values in samples.items()}
    print(f"\nfresh process, progressive JPEG -> 1600 px (median of {runs}, interleaved)")
    print(f"  {'':<40}{'wall s':>8}{'CPU s':>8}{'wall/pyvips':>13}{'CPU/pyvips':>12}")
    for name in samples:
        print(
            f"  {name:<40}{wall[name]:>8.3f}{cpu[name]:>8.3f}"
            f"{wall[name] / wall['pyvips']:>13.2f}{cpu[name] / cpu['pyvips']:>12.2f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--only", choices=("engine", "first-photo"), help="only the image engine's import, or the first photo"
    )
    args = parser.parse_args()
    if args.only == "engine":
        engine_imports(args.runs)
        return
    if args.only == "first-photo":
        first_photo(args.runs)
        return
    baseline = _time("import boto3", None, args.runs)
    print(f"cold-start proxy: median import time of {args.runs} fresh interpreters")
    print(f"{'module':<28}{'ms':>9}{'x boto3':>10}")
    print(f"{'import boto3 (baseline)':<28}{baseline * 1000:>9.1f}{1.0:>10.2f}")
    for folder in sorted(p for p in FUNCTIONS.iterdir() if (p / "app.py").exists()):
        seconds = _time("import app", folder, args.runs)
        print(f"{'functions/' + folder.name + '/app':<28}{seconds * 1000:>9.1f}{seconds / baseline:>10.2f}")
    print("target: authorizer <= 1.5x; FastAPI functions run with SnapStart (import paid at publish time)")
    engine_imports(args.runs)
    first_photo(args.runs)


if __name__ == "__main__":
    main()
