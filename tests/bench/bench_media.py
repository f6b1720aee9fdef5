"""Media conversion: our engine (one probe, sandboxed FFmpeg) beside plain FFmpeg with the same encoding
arguments, in the same run, on a 1080p 30 s clip and a 3-minute song.

    .venv/bin/python tests/bench/bench_media.py [--repeat N] [--only song]

Prints wall time, CPU time and peak memory (the largest resident set of the process tree: for ours, the Python
driver and its FFmpeg children) for each, the ratio ours/plain, and the output sizes. Figures, not
assertions: the ratio is what we report.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "layers" / "common"))

from filegate.engines.av import engine as media_engine  # noqa: E402
from filegate.engines.av import ffmpeg  # noqa: E402
from filegate.engines.av import planner as media_planner  # noqa: E402
from filegate.engines.av import probe as media_probe  # noqa: E402
from filegate.formats.options import MediaOptions  # noqa: E402
from filegate.formats.table import demuxer  # noqa: E402
from filegate.tiers import TIERS  # noqa: E402
from tests.helpers import av_samples as av  # noqa: E402

CASES = {
    # name: (make the input, source format, target, options)
    "1080p 30 s mp4 -> mp4 (H.264)": ("clip", "mp4", "mp4", {}),
    "1080p 30 s mp4 -> webm (VP9)": ("clip", "mp4", "webm", {"width": 1280}),
    "3 min song wav -> mp3": ("song", "wav", "mp3", {}),
    "3 min song wav -> opus": ("song", "wav", "opus", {}),
}
SANDBOX = ffmpeg.Sandbox(wall_seconds=840, cpu_seconds=3600, memory_bytes=4 * 1024**3, max_output_bytes=5 * 1024**3)


def make_inputs(folder: Path, kinds: set[str]) -> dict[str, Path]:
    clip, song = folder / "clip.mp4", folder / "song.wav"
    if "clip" in kinds:
        av.ffmpeg(
            "-f", "lavfi", "-i", "testsrc2=size=1920x1080:rate=30:duration=30",
            "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=30",
            "-c:v", "libx264", "-preset", "ultrafast", "-crf", "23", "-pix_fmt", "yuv420p", "-c:a", "aac", str(clip),
            timeout=600,
        )  # fmt: skip
    av.ffmpeg(
        "-f", "lavfi", "-i", "sine=frequency=220:sample_rate=44100:duration=180", "-ac", "2", "-c:a", "pcm_s16le",
        str(song),
    )  # fmt: skip
    return {"clip": clip, "song": song}


def _measured(command: list[str]) -> tuple[float, float, int, str]:
    """Wall seconds, CPU seconds and peak RSS (KiB) of the process tree, and stdout of a command run to
    completion."""
    started = time.monotonic()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    assert process.stdout is not None
    out = process.stdout.read().decode()
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.monotonic() - started
    if status != 0:
        raise SystemExit(f"failed ({status}): {' '.join(command[:6])}…")
    return seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss, out


def ours(source: Path, fmt: str, target: str, options: dict[str, object]) -> None:
    """Run by a child process: one conversion through the engine; prints its own timing and output size."""
    with tempfile.TemporaryDirectory() as work:
        started, cpu = time.monotonic(), _cpu()
        result = media_engine.convert_file(
            source, fmt, target, MediaOptions(**options), TIERS["enterprise"].media,  # type: ignore[arg-type]
            workdir=Path(work), sandbox=SANDBOX,
        )  # fmt: skip
        seconds, cpu = time.monotonic() - started, _cpu() - cpu
        print(json.dumps({"seconds": seconds, "cpu": cpu, "bytes": result.path.stat().st_size}))


def _cpu() -> float:
    """CPU seconds of this process and its finished children (the FFmpeg runs)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def plain_command(source: Path, fmt: str, target: str, options: dict[str, object], output: Path) -> list[str]:
    """FFmpeg alone with the very encoding arguments our plan chose (no probe, no sandbox, no read-back)."""
    with tempfile.TemporaryDirectory() as work:
        info = media_probe.probe(source, fmt, demuxer(fmt), workdir=Path(work))
    plan = media_planner.plan(info, target, MediaOptions(**options), TIERS["enterprise"].media)  # type: ignore[arg-type]
    return [ffmpeg.ffmpeg_binary(), "-hide_banner", "-nostdin", "-i", str(source), *plan.args, "-y", str(output)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--only", default="", help="run only the cases whose name contains this (e.g. song)")
    parser.add_argument("--one", nargs=4, metavar=("SOURCE", "FMT", "TARGET", "OPTIONS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        source, fmt, target, options = args.one
        ours(Path(source), fmt, target, json.loads(options))
        return
    with tempfile.TemporaryDirectory() as work:
        folder = Path(work)
        print("making inputs (1080p 30 s H.264 clip, 3 min stereo WAV)…", flush=True)
        inputs = make_inputs(folder, {kind for name, (kind, *_) in CASES.items() if args.only in name})
        header = (
            f"{'case':<32} {'ours s':>8} {'plain s':>8} {'ratio':>6} {'ours cpu':>8} {'plain cpu':>9} {'ratio':>6} "
            f"{'ours MB':>8} {'plain MB':>9} {'out KB':>9} {'plain KB':>9}"
        )
        print(header)
        for name, (kind, fmt, target, options) in CASES.items():
            if args.only not in name:
                continue
            source = inputs[kind]
            rows: list[tuple[float, float, float, float]] = []
            for _ in range(args.repeat):  # interleaved, so load on the machine falls on both alike
                ours_cmd = [sys.executable, __file__, "--one", str(source), fmt, target, json.dumps(options)]
                _, _, ours_rss, out = _measured(ours_cmd)
                measured = json.loads(out)
                # Timed inside the driver, as in a warm worker: no interpreter start, no imports.
                ours_wall, ours_cpu, ours_bytes = measured["seconds"], measured["cpu"], measured["bytes"]
                plain_out = folder / f"plain.{target}"
                plain_wall, plain_cpu, plain_rss, _ = _measured(plain_command(source, fmt, target, options, plain_out))
                rows.append((ours_wall, plain_wall, ours_cpu, plain_cpu))
                print(
                    f"{name:<32} {ours_wall:>8.2f} {plain_wall:>8.2f} {ours_wall / plain_wall:>6.2f} "
                    f"{ours_cpu:>8.2f} {plain_cpu:>9.2f} {ours_cpu / plain_cpu:>6.2f} "
                    f"{ours_rss / 1024:>8.0f} {plain_rss / 1024:>9.0f} {ours_bytes / 1024:>9.0f} "
                    f"{plain_out.stat().st_size / 1024:>9.0f}",
                    flush=True,
                )
            if len(rows) > 1:
                ow, pw, oc, pc = (statistics.median(column) for column in zip(*rows, strict=True))
                print(
                    f"{'  median':<32} {ow:>8.2f} {pw:>8.2f} {ow / pw:>6.2f} {oc:>8.2f} {pc:>9.2f} {oc / pc:>6.2f}",
                    flush=True,
                )
        print("ours: probe + sandboxed FFmpeg, its output described from its own report (timed inside the driver,")
        print("as in a warm worker); plain: FFmpeg alone with the same arguments. cpu: user + system seconds of the")
        print("process tree; MB: its peak resident set. --repeat N prints the medians.")


if __name__ == "__main__":
    main()
