"""A 6 MB image converted end to end: the `filegate` CLI vs curl doing the same steps by hand.

    .venv/bin/python tests/bench/bench_cli_vs_curl.py [--runs 3]

Prints figures; asserts nothing. The same steps on all paths, against one warm local stack (pro account):
POST /v1/files, the presigned POST to S3, POST /v1/files/{id}/complete, POST /v1/conversions, polling
GET /v1/conversions/{id}, GET /v1/files/{id}/content (302) and the download.
- curl: one `curl` process per step, polling every 0.25 s (JSON read in this process: costs ~nothing);
- CLI: `filegate convert big.png --to jpg -o out.jpg` as a new process (Python start-up included), polling
  with backoff from 0.2 s (x1.3, at most 3 s);
- SDK: `FileGate.convert` in this process (the CLI minus start-up and argument parsing).
Runs alternate, so drift on a shared machine hits every path alike.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "infra"), str(ROOT / "layers" / "common")]

from filegate_client import FileGate  # noqa: E402
from filegate_local.stack import LocalStack, StackConfig  # noqa: E402

CURL = shutil.which("curl")
FILEGATE = Path(sys.executable).with_name("filegate")
POLL_SECONDS = 0.25


def noisy_png(path: Path) -> None:
    width, height = 1500, 1420  # random pixels: PNG cannot shrink them, so ~6.4 MB
    image = Image.frombytes("RGB", (width, height), os.urandom(width * height * 3))
    buf = io.BytesIO()
    image.save(buf, "PNG", compress_level=1)
    path.write_bytes(buf.getvalue())


def curl(*args: str) -> str:
    assert CURL is not None
    return subprocess.run([CURL, "-sS", "--fail-with-body", *args], check=True, capture_output=True, text=True).stdout


def with_curl(url: str, key: str, source: Path, output: Path) -> float:
    auth = f"Authorization: Bearer {key}"
    start = time.perf_counter()
    body = json.dumps({"filename": source.name, "content_type": "image/png", "size": source.stat().st_size})
    created = json.loads(
        curl("-X", "POST", f"{url}/v1/files", "-H", auth, "-H", "Content-Type: application/json", "-d", body)
    )
    upload = created["upload"]
    fields = [arg for name, value in upload["fields"].items() for arg in ("-F", f"{name}={value}")]
    curl("-X", "POST", upload["url"], *fields, "-F", f"file=@{source}")
    curl("-X", "POST", f"{url}/v1/files/{created['id']}/complete", "-H", auth)
    job = json.loads(
        curl("-X", "POST", f"{url}/v1/conversions", "-H", auth, "-H", "Content-Type: application/json",
             "-d", json.dumps({"file_id": created["id"], "target": "jpg"}))
    )  # fmt: skip
    while job["status"] not in ("succeeded", "failed"):
        time.sleep(POLL_SECONDS)
        job = json.loads(curl(f"{url}/v1/conversions/{job['id']}", "-H", auth))
    assert job["status"] == "succeeded", job
    curl("-L", f"{url}/v1/files/{job['output_file_id']}/content", "-H", auth, "-o", str(output))
    return time.perf_counter() - start


def with_cli(url: str, key: str, source: Path, output: Path) -> float:
    start = time.perf_counter()
    subprocess.run(
        [str(FILEGATE), "convert", str(source), "--to", "jpg", "-o", str(output), "--quiet",
         "--base-url", url, "--api-key", key],
        check=True,
    )  # fmt: skip
    return time.perf_counter() - start


def with_sdk(url: str, key: str, source: Path, output: Path) -> float:
    start = time.perf_counter()
    with FileGate(key, url) as client:
        result = client.convert(source, "jpg", output=output)
    assert result.mode == "async"
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    if CURL is None or not FILEGATE.exists():
        raise SystemExit("needs curl on PATH and the filegate CLI in the venv (make venv)")
    with tempfile.TemporaryDirectory() as tmp, LocalStack(
        StackConfig(template=ROOT / "template.yaml", port=0, moto_port=0, state_dir=Path(tmp) / "state",
                    warm=True, echo_logs=False, parameters={"AuthorizerCacheTtl": "3600"})
    ) as stack:  # fmt: skip
        from tests.helpers.local_api import new_account

        key = new_account(stack, "pro")["api_key"]
        source = Path(tmp) / "big.png"
        noisy_png(source)
        paths = {"curl": with_curl, "filegate CLI": with_cli, "SDK in-process": with_sdk}
        for run in paths.values():  # warm-up: workers, policy cache, imports
            run(stack.url, key, source, Path(tmp) / "warm.jpg")
        times: dict[str, list[float]] = {name: [] for name in paths}
        for i in range(args.runs):
            for name, run in paths.items():
                out = Path(tmp) / f"{name.replace(' ', '_')}-{i}.jpg"
                times[name].append(run(stack.url, key, source, out))
                with Image.open(out) as image:
                    assert image.format == "JPEG" and image.size == (1500, 1420)
        print(f"6 MB PNG -> JPEG through files + jobs ({source.stat().st_size / 1e6:.2f} MB), {args.runs} runs")
        print(f"{'path':<18}{'median s':>10}{'min s':>8}{'max s':>8}")
        for name, values in times.items():
            print(f"{name:<18}{statistics.median(values):>10.2f}{min(values):>8.2f}{max(values):>8.2f}")
        ratio = statistics.median(times["filegate CLI"]) / statistics.median(times["curl"])
        print(f"CLI / curl: {ratio:.2f}x")


if __name__ == "__main__":
    main()
