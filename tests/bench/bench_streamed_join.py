"""The long-media join streamed to S3 as it grows, against joining to disk and uploading after, and against
plain FFmpeg concatenating the same pieces to a local file with +faststart (what a user would run).

    .venv/bin/python tests/bench/bench_streamed_join.py [--seconds 90] [--target mp4] [--part-mb 8]

The pieces are grainy video (about 10 Mbit/s, so the output weighs what an hour of a real 1080p talk weighs
per minute of this) and a tone, made first; S3 is moto in this process (no network: what is measured is
our work, not a link). Printed per way: wall seconds (best of --runs), the most disk the output took while
it was written (sampled every 10 ms), and the output's size. Ratios are against plain FFmpeg to a file.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "layers" / "common"))

import boto3  # noqa: E402
from moto import mock_aws  # noqa: E402

from filegate import aws  # noqa: E402
from filegate.engines.av import ffmpeg, segments  # noqa: E402
from filegate.files.growing_upload import GrowingUpload  # noqa: E402
from filegate.files.http_source import HttpSource  # noqa: E402
from filegate.files.storage import Bucket  # noqa: E402
from tests.helpers import long_media as long  # noqa: E402

SANDBOX = ffmpeg.Sandbox(wall_seconds=3600, cpu_seconds=7200, memory_bytes=4 * 1024**3, max_output_bytes=64 * 1024**3)
MB = 1024 * 1024


class DiskWatch:
    """The most disk blocks `path` held while watched (a thread samples it every 10 ms)."""

    def __init__(self, path: Path) -> None:
        self.path, self.most, self._stop = path, 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.01):
            with contextlib.suppress(FileNotFoundError):
                self.most = max(self.most, os.stat(self.path).st_blocks * 512)

    def __enter__(self) -> DiskWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def best(runs: int, once: Callable[[], tuple[int, int]]) -> tuple[float, int, int]:
    """(best wall seconds, most disk, output size) over `runs`."""
    walls, disk, size = [], 0, 0
    for _ in range(runs):
        started = time.monotonic()
        disk, size = once()
        walls.append(time.monotonic() - started)
    return min(walls), disk, size


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=90)
    parser.add_argument("--target", choices=("mp4", "webm"), default="mp4")
    parser.add_argument("--part-mb", type=int, default=8)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="us-east-1")
    os.environ.pop("AWS_ENDPOINT_URL", None)
    ffmpeg.PROGRESS_POLL_SECONDS = 0.05  # pump as often as a long join would relative to its length
    with tempfile.TemporaryDirectory() as work, mock_aws():
        folder = Path(work)
        aws._clients.clear()
        boto3.client("s3").create_bucket(Bucket="bench")
        bucket = Bucket("bench")
        pieces_dir = folder / "pieces"
        pieces_dir.mkdir()
        per = 10
        plan = long.grainy_pieces(pieces_dir, args.target, [per] * (args.seconds // per))
        served = long.served_pieces(pieces_dir, plan)
        part = args.part_mb * MB

        def plain() -> tuple[int, int]:
            listing = folder / "list.ffconcat"
            names = [f"file '{pieces_dir / plan.file_name(p.name)}'" for p in plan.video_pieces]
            listing.write_text("ffconcat version 1.0\n" + "\n".join(names) + "\n")
            out = folder / f"plain.{args.target}"
            audio = pieces_dir / plan.file_name(segments.AUDIO)
            fast = ["-movflags", "+faststart"] if args.target == "mp4" else []
            command = [ffmpeg.ffmpeg_binary(), "-v", "error", "-y", "-f", "concat", "-safe", "0", "-i", str(listing),
                       "-i", str(audio), "-map", "0:v", "-map", "1:a", "-c", "copy", *fast, str(out)]  # fmt: skip
            with DiskWatch(out) as watch:
                subprocess.run(command, check=True)
            size = out.stat().st_size
            out.unlink()
            return watch.most, size

        def to_disk_then_upload() -> tuple[int, int]:
            join_dir = folder / "join"
            join_dir.mkdir(exist_ok=True)
            sink = long.FileOutput(join_dir / f"output.{args.target}", folder / f"joined.{args.target}")
            with HttpSource.of(served) as url, DiskWatch(sink.path) as watch:
                size, _ = segments.join(plan, url, join_dir, sink, sandbox=SANDBOX)
            bucket.upload("disk", sink.stored, "video/x")
            most = watch.most + size  # the file FFmpeg wrote, and the laid-out copy that was uploaded
            sink.stored.unlink()
            sink.path.unlink()
            return most, size

        def streamed() -> tuple[int, int]:
            join_dir = folder / "stream"
            join_dir.mkdir(exist_ok=True)
            path = join_dir / f"output.{args.target}"
            with (
                HttpSource.of(served) as url,
                GrowingUpload(bucket, "streamed", path, "video/x", part_bytes=part) as sink,
                DiskWatch(path) as watch,
            ):
                size, _ = segments.join(plan, url, join_dir, sink, sandbox=SANDBOX)
            return watch.most, size

        results = {
            "plain FFmpeg to a file (+faststart)": best(args.runs, plain),
            "join to disk, then upload": best(args.runs, to_disk_then_upload),
            f"join streamed to S3 ({args.part_mb} MB parts)": best(args.runs, streamed),
        }
        s3 = boto3.client("s3")
        same = s3.get_object(Bucket="bench", Key="disk")["Body"].read() == (
            s3.get_object(Bucket="bench", Key="streamed")["Body"].read()
        )
    base = results["plain FFmpeg to a file (+faststart)"][0]
    print(f"{args.seconds} s of {args.target}, {len(plan.video_pieces)} segments + audio; best of {args.runs}")
    print(f"{'way':<40} {'wall s':>8} {'x plain':>8} {'most disk MB':>13} {'output MB':>10}")
    for name, (wall, disk, size) in results.items():
        print(f"{name:<40} {wall:>8.2f} {wall / base:>8.2f} {disk / MB:>13.1f} {size / MB:>10.1f}")
    print(f"streamed object identical to the uploaded one: {same}")


if __name__ == "__main__":
    main()
