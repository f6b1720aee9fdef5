"""A `make dev` stack under an outside test suite for a while, then idle: how much memory and CPU its
embedded AWS (moto) and the stack process hold. Prints figures; asserts nothing.

    .venv/bin/python tests/bench/bench_local_soak.py [--minutes 3] [--clients 4] [--idle-seconds 30] [--pause-seconds 0]
        [--baseline-infra DIR]

Each client loops: a sync conversion of a ~1 MB PNG, an upload through a presigned POST and a queued
conversion of it, and every few loops a key created, rotated and revoked. Every 30 s the table gets moto's
RSS. After the soak the stack idles and the CPU each process used is measured; then the moto process is
asked to expire everything as if eight days had passed (`POST /_filegate/expire`, where it exists) and its
footprint and RSS are measured again.

`--baseline-infra` points at another copy of `infra/` (e.g. `git archive <commit> infra | tar -x -C /tmp/old`):
the same soak runs first against it, and the summary gives both with their ratios.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
TICKS = os.sysconf("SC_CLK_TCK")
SAMPLE_SECONDS = 30.0
EIGHT_DAYS = 8 * 86_400


@dataclass
class Figures:
    label: str
    rss_mb: list[tuple[float, float]] = field(default_factory=list)  # (minutes, moto RSS)
    requests: int = 0
    failures: int = 0
    idle_cpu: dict[str, float] = field(default_factory=dict)  # process -> % of one core
    footprint: dict[str, Any] = field(default_factory=dict)
    expired: dict[str, Any] = field(default_factory=dict)
    rss_after_expiry_mb: float = 0.0
    stop_seconds: float = 0.0


def _children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def _png(size: int) -> bytes:
    """A noisy PNG (noise does not compress: about 3 bytes a pixel)."""
    image = Image.frombytes("RGB", (size, size), random.randbytes(size * size * 3))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


class Soak:
    """One stack started as `make dev` does, driven by `clients` threads until `stop` is set."""

    pause_seconds = 0.0  # each client's wait between loops (--pause-seconds): a lighter, longer soak

    def __init__(self, infra: Path, state_dir: Path) -> None:
        self.infra, self.state_dir = infra, state_dir
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.requests = self.failures = 0
        command = [
            sys.executable, "-m", "filegate_local", "--template", str(ROOT / "template.yaml"),
            "--port", "0", "--moto-port", "0", "--state-dir", str(state_dir), "--no-echo-logs",
        ]  # fmt: skip
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        self.process = subprocess.Popen(
            command,
            stdout=subprocess.DEVNULL,
            stderr=(state_dir.parent / "console.log").open("wb"),
            env={**env, "PYTHONPATH": str(infra)},
            cwd=ROOT,
        )
        state_file = state_dir / "stack.json"
        deadline = time.monotonic() + 180
        while not state_file.exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"filegate-local did not start; see {state_dir.parent / 'console.log'}")
            time.sleep(0.1)
        self.state = json.loads(state_file.read_text())
        self.url, self.moto_url = self.state["api_url"], self.state["moto_endpoint"]
        while True:
            try:
                requests.get(f"{self.url}/v1/health", timeout=10)
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        self.moto_pid = next(p for p in _children(self.process.pid) if "moto_process" in _cmdline(p))

    def new_key(self) -> str:
        created = subprocess.run(
            [str(BIN / "filegate-admin"), "--local", "--state-dir", str(self.state_dir), "create-account",
             f"soak-{uuid.uuid4().hex[:10]}@example.com", "--tier", "pro"],
            capture_output=True, text=True, check=True, cwd=ROOT,
        )  # fmt: skip
        return str(json.loads(created.stdout)["api_key"])

    def _call(self, session: requests.Session, method: str, path: str, **kwargs: Any) -> requests.Response | None:
        try:
            response = session.request(method, f"{self.url}{path}", timeout=120, **kwargs)
        except requests.RequestException:
            response = None
        with self.lock:
            self.requests += 1
            self.failures += response is None or response.status_code >= 500
        return response

    def client(self, key: str, picture: bytes) -> None:
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {key}"
        loop = 0
        while not self.stop.is_set():
            loop += 1
            self._call(session, "POST", "/v1/convert", files={"file": ("p.png", picture)}, data={"target": "webp"})
            created = self._call(
                session,
                "POST",
                "/v1/files",
                json={"filename": "p.png", "content_type": "image/png", "size": len(picture)},
            )
            if created is not None and created.status_code == 201:
                upload = created.json()
                with self.lock:
                    self.requests += 1
                with contextlib.suppress(requests.RequestException):
                    requests.post(
                        upload["upload"]["url"], data=upload["upload"]["fields"], files={"file": picture}, timeout=60
                    )
                self._call(session, "POST", f"/v1/files/{upload['id']}/complete")
                self._call(session, "POST", "/v1/conversions", json={"file_id": upload["id"], "target": "jpg"})
            if loop % 5 == 0:
                made = self._call(session, "POST", "/v1/keys", json={"name": f"k{loop}"})
                if made is not None and made.status_code == 201:
                    key_id = made.json()["key_id"]
                    rotated = self._call(session, "POST", f"/v1/keys/{key_id}/rotate", json={})
                    self._call(session, "DELETE", f"/v1/keys/{key_id}")
                    if rotated is not None and rotated.status_code == 201:
                        self._call(session, "DELETE", f"/v1/keys/{rotated.json()['key_id']}")
            self.stop.wait(self.pause_seconds)

    def processes(self) -> dict[str, list[int]]:
        children = _children(self.process.pid)
        return {
            "filegate-local": [self.process.pid],
            "moto": [self.moto_pid],
            "function workers": [p for p in children if p != self.moto_pid],
        }

    def finish(self) -> float:
        """SIGTERM to the stack; seconds until it and every process it started are gone."""
        pids = [pid for group in self.processes().values() for pid in group]
        started = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        while any(Path(f"/proc/{pid}").exists() and not _zombie(pid) for pid in pids[1:]):
            if time.monotonic() - started > 60:
                break
            time.sleep(0.02)
        return time.monotonic() - started


def _idle_cpu(processes: dict[str, list[int]], seconds: float) -> dict[str, float]:
    def total(pids: list[int]) -> float:
        used = 0.0
        for pid in pids:
            with contextlib.suppress(OSError):
                used += _cpu_seconds(pid)
        return used

    before = {name: total(pids) for name, pids in processes.items()}
    time.sleep(seconds)
    return {name: 100 * (total(pids) - before[name]) / seconds for name, pids in processes.items()}


def _moto_json(soak: Soak, method: str, path: str) -> dict[str, Any]:
    try:
        response = requests.request(method, f"{soak.moto_url}{path}", timeout=600)
    except requests.RequestException:
        return {}
    return dict(response.json()) if response.status_code == 200 else {}


def run(label: str, infra: Path, minutes: float, clients: int, idle_seconds: float) -> Figures:
    figures = Figures(label)
    with tempfile.TemporaryDirectory() as workdir:
        state_dir = Path(workdir) / "state"
        soak = Soak(infra, state_dir)
        try:
            picture = _png(600)
            keys = [soak.new_key() for _ in range(clients)]
            threads = [threading.Thread(target=soak.client, args=(key, picture), daemon=True) for key in keys]
            started = time.monotonic()
            figures.rss_mb.append((0.0, _rss_mb(soak.moto_pid)))
            for thread in threads:
                thread.start()
            while (elapsed := time.monotonic() - started) < minutes * 60:
                time.sleep(min(SAMPLE_SECONDS, minutes * 60 - elapsed))
                figures.rss_mb.append(((time.monotonic() - started) / 60, _rss_mb(soak.moto_pid)))
                print(f"  [{label}] {figures.rss_mb[-1][0]:5.1f} min: moto RSS {figures.rss_mb[-1][1]:7.1f} MB, "
                      f"{soak.requests} requests", flush=True)  # fmt: skip
            soak.stop.set()
            for thread in threads:
                thread.join(180)
            time.sleep(5)  # queued conversions finish
            figures.requests, figures.failures = soak.requests, soak.failures
            figures.idle_cpu = _idle_cpu(soak.processes(), idle_seconds)
            figures.footprint = _moto_json(soak, "GET", "/_filegate/footprint")
            figures.expired = _moto_json(soak, "POST", f"/_filegate/expire?now={time.time() + EIGHT_DAYS}")
            figures.rss_after_expiry_mb = _rss_mb(soak.moto_pid)
        finally:
            figures.stop_seconds = soak.finish()
    return figures


def _report(runs: list[Figures]) -> None:
    print("\nmoto RSS (MB) over the soak")
    print(f"  {'minutes':>8}" + "".join(f"{f.label:>12}" for f in runs))
    for index in range(max(len(f.rss_mb) for f in runs)):
        row = [f.rss_mb[index] if index < len(f.rss_mb) else (0.0, float("nan")) for f in runs]
        print(f"  {row[-1][0]:8.1f}" + "".join(f"{value:12.1f}" for _, value in row))
    print("\n" + f"  {'':<34}" + "".join(f"{f.label:>12}" for f in runs) + ("       ratio" if len(runs) == 2 else ""))

    def line(name: str, values: list[float], fmt: str = "12.1f") -> None:
        ratio = f"{values[1] / values[0]:12.2f}" if len(values) == 2 and values[0] else ""
        print(f"  {name:<34}" + "".join(format(v, fmt) for v in values) + ratio)

    line("requests", [float(f.requests) for f in runs], "12.0f")
    line("5xx or failed", [float(f.failures) for f in runs], "12.0f")
    line("moto RSS growth (MB/min)", [(f.rss_mb[-1][1] - f.rss_mb[0][1]) / max(f.rss_mb[-1][0], 1e-9) for f in runs])
    line("moto RSS at the end (MB)", [f.rss_mb[-1][1] for f in runs])
    for name in runs[0].idle_cpu:
        line(f"idle CPU, {name} (% core)", [f.idle_cpu.get(name, 0.0) for f in runs], "12.2f")
    line("moto RSS after +8 days expiry (MB)", [f.rss_after_expiry_mb for f in runs])
    line("SIGTERM to all gone (s)", [f.stop_seconds for f in runs], "12.2f")
    for f in runs:
        if f.footprint:
            print(f"  [{f.label}] moto holds: {json.dumps(f.footprint)}")
        if f.expired:
            print(f"  [{f.label}] expired at +8 days: {json.dumps(f.expired)}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=3.0)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--idle-seconds", type=float, default=30.0)
    parser.add_argument("--pause-seconds", type=float, default=0.0, help="each client's wait between loops")
    parser.add_argument("--baseline-infra", type=Path, help="another copy of infra/ to soak first, for comparison")
    args = parser.parse_args()
    Soak.pause_seconds = args.pause_seconds
    runs = []
    if args.baseline_infra is not None:
        runs.append(run("baseline", args.baseline_infra, args.minutes, args.clients, args.idle_seconds))
    runs.append(run("this tree", ROOT / "infra", args.minutes, args.clients, args.idle_seconds))
    _report(runs)


if __name__ == "__main__":
    main()
