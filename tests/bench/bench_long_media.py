"""Long media in segments against one-piece FFmpeg on the same input: modelled speed-up, size and PSNR.

    .venv/bin/python tests/bench/bench_long_media.py [--seconds 300] [--size 1280x720] [--target mp4]
                                                      [--segment-seconds 45]

What it measures, on this machine, one run after another (nothing in parallel, so the figures do not fight
for the cores):
- one piece: plain FFmpeg with the arguments of our one-piece plan (the same encoder, CRF and VBV cap);
- every segment as a media worker piece runs it (segments.encode_piece, reading the input in ranges over
  loopback HTTP), then the audio pieces (AAC: a few minutes of audio each; Opus: the whole track), then the
  join (stream copy);
- wall and CPU seconds of each.

How the wall time for N parallel workers is modelled: each piece is one invocation on a worker of its own
(Lambda runs up to N at once), assigned longest first to the worker free soonest (list scheduling), so the
pieces end at the makespan; the join starts when the last piece ends. Wall(N) = makespan(N) + join, each
piece's time being its wall time measured here alone. The invocation that fans out (a ranged probe and the
manifest) and SQS's delivery (tens of ms) are left out: both are far below a piece. For inputs longer than
the one made here, the same model is applied to pieces of the measured mean time, the one-piece time and
the join time scaled by length (both are linear in it), and the audio as pieces of the measured length each
taking the measured full-length audio piece's time (AAC; an Opus track, one piece, scales with the length):
that gives the 1 h and 6 h rows, and the longest single piece of each.

Size and quality: the joined output and the one-piece output, each against the source (FFmpeg's psnr filter,
average over all frames). Goal (issue 17): at most 3 % larger at equal quality.
"""

from __future__ import annotations

import argparse
import heapq
import math
import re
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "layers" / "common"))

from filegate.engines.av import ffmpeg, planner, segments  # noqa: E402
from filegate.engines.av import probe as media_probe  # noqa: E402
from filegate.engines.interface import Segmenting  # noqa: E402
from filegate.files.http_source import HttpSource  # noqa: E402
from filegate.formats.options import MediaOptions  # noqa: E402
from filegate.tiers import TIERS  # noqa: E402
from tests.helpers import long_media as long  # noqa: E402

SANDBOX = ffmpeg.Sandbox(wall_seconds=3600, cpu_seconds=7200, memory_bytes=4 * 1024**3, max_output_bytes=8 * 1024**3)
WORKERS = (1, 10, 100, 1000)
MODEL_SECONDS = {"1 h": 3600.0, "6 h": 21600.0}


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(run: object) -> tuple[float, float]:
    """(wall, CPU of the FFmpeg children) of a callable."""
    cpu, started = _children_cpu(), time.monotonic()
    run()  # type: ignore[operator]
    return time.monotonic() - started, _children_cpu() - cpu


def makespan(durations: list[float], workers: int) -> float:
    """List scheduling, longest first, each piece to the worker free soonest."""
    free = [0.0] * min(workers, len(durations))
    heapq.heapify(free)
    for duration in sorted(durations, reverse=True):
        heapq.heappush(free, heapq.heappop(free) + duration)
    return max(free)


def psnr(output: Path, source: Path, frame: tuple[int, int]) -> float:
    result = subprocess.run(
        [ffmpeg.ffmpeg_binary(), "-nostdin", "-hide_banner", "-i", str(output), "-i", str(source),
         "-lavfi", f"[1:v]scale={frame[0]}:{frame[1]}[ref];[0:v][ref]psnr", "-f", "null", "-"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    found = re.search(r"PSNR .*average:([\d.]+|inf)", result.stderr)
    assert found, result.stderr[-500:]
    return float(found.group(1))


def _modelled_audio_piece(
    cut: segments.SegmentPlan, times: dict[str, tuple[float, float]], seconds: float
) -> Callable[[float], list[float]]:
    """The audio pieces of an input `length` seconds long, as measured here: AAC pieces are all of one length
    (the measured full-length pieces' mean wall time each); a whole track (Opus) scales with the length."""
    audio = cut.audio_pieces
    if not audio:
        return lambda length: []
    if cut.audio_piece_frames:
        full = [p for p in audio if p.seconds == audio[0].seconds]
        each = sum(times[p.name][0] for p in full) / len(full)
        return lambda length: [each] * math.ceil(length / audio[0].seconds)
    rate = times[segments.AUDIO][0] / seconds
    return lambda length: [rate * length]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=300.0)
    parser.add_argument("--size", default="1280x720")
    parser.add_argument("--fps", type=int, default=25)
    parser.add_argument("--target", choices=("mp4", "webm"), default="mp4")
    parser.add_argument("--segment-seconds", type=float, default=45.0)
    args = parser.parse_args()
    segmenting = Segmenting(above_seconds=min(240.0, args.seconds / 2), segment_seconds=args.segment_seconds)
    with tempfile.TemporaryDirectory() as work:
        folder = Path(work)
        print(f"making a {args.seconds:g} s {args.size} {args.fps} fps clip…", flush=True)
        source = long.make_clip(folder / "source.mp4", args.seconds, args.fps, size=args.size)
        info = media_probe.probe(source, "mp4", "mov", workdir=folder)
        options, media = MediaOptions(), TIERS["enterprise"].media
        whole = planner.plan(info, args.target, options, media)
        cut = planner.plan_segments(info, args.target, options, media, segmenting)
        assert cut is not None and whole.frame is not None

        one_piece = folder / f"one.{args.target}"
        command = [ffmpeg.ffmpeg_binary(), "-nostdin", "-hide_banner", "-v", "error", "-i", str(source)]
        command += [*whole.args, "-y", str(one_piece)]
        one_wall, one_cpu = timed(lambda: subprocess.run(command, check=True))
        print(f"one piece: {one_wall:.1f} s wall, {one_cpu:.1f} s CPU", flush=True)

        pieces_dir = folder / "pieces"
        pieces_dir.mkdir()
        data = source.read_bytes()
        times: dict[str, tuple[float, float]] = {}
        with HttpSource(*long.served(data)) as url:
            for piece in cut.pieces:
                times[piece.name] = timed(
                    lambda name=piece.name: segments.encode_piece(  # type: ignore[misc]
                        cut, name, url, workdir=pieces_dir, sandbox=SANDBOX
                    )
                )
                print(
                    f"  {piece.name}: {times[piece.name][0]:.1f} s wall, {times[piece.name][1]:.1f} s CPU", flush=True
                )
        served = long.served_pieces(pieces_dir, cut)
        join_dir = folder / "join"
        join_dir.mkdir()
        # Into a local file here (bench_streamed_join.py measures sending it to S3 as it grows).
        sink = long.FileOutput(join_dir / f"output.{args.target}", folder / f"joined.{args.target}")
        joined = [sink.stored]
        with HttpSource.of(served) as pieces_url:  # as the worker reads them: from S3 in ranges
            join_wall, join_cpu = timed(lambda: segments.join(cut, pieces_url, join_dir, sink, sandbox=SANDBOX))
        print(f"join: {join_wall:.2f} s wall, {join_cpu:.2f} s CPU", flush=True)

        walls = [wall for wall, _ in times.values()]
        video_walls = [times[p.name][0] for p in cut.video_pieces]
        print()
        print(
            f"input: {args.seconds:g} s, {args.size} at {args.fps} fps -> {args.target}; "
            f"{len(cut.video_pieces)} segments of {segments.segment_seconds(cut.frame, segmenting):g} s, "
            f"{len(cut.audio_pieces)} audio piece(s)"
        )
        print(f"one piece: {one_wall:.1f} s wall, {one_cpu:.1f} s CPU; pieces: {sum(walls):.1f} s wall, "
              f"{sum(c for _, c in times.values()):.1f} s CPU in all (longest {max(walls):.1f} s); "
              f"join {join_wall:.2f} s")  # fmt: skip
        print()
        print(f"{'input':<10} {'workers':>8} {'modelled wall s':>16} {'one piece s':>12} {'speed-up':>9}")
        for workers in WORKERS:
            wall = makespan(walls, workers) + join_wall
            print(f"{'this one':<10} {workers:>8} {wall:>16.1f} {one_wall:>12.1f} {one_wall / wall:>9.1f}")
        mean_video = sum(video_walls) / len(video_walls)
        audio_piece = _modelled_audio_piece(cut, times, args.seconds)
        for label, seconds in MODEL_SECONDS.items():
            scale = seconds / args.seconds
            count = math.ceil(seconds / segments.segment_seconds(cut.frame, segmenting))
            modelled = [mean_video] * count + audio_piece(seconds)
            for workers in WORKERS:
                wall = makespan(modelled, workers) + join_wall * scale
                one = one_wall * scale
                print(f"{label:<10} {workers:>8} {wall:>16.1f} {one:>12.1f} {one / wall:>9.1f}")
            print(f"{label:<10} longest single piece: {max(modelled):.1f} s "
                  f"(a video segment {mean_video:.1f} s, an audio piece {max(audio_piece(seconds), default=0):.1f} s)")  # fmt: skip
        print()
        size_one, size_cut = one_piece.stat().st_size, joined[0].stat().st_size
        psnr_one, psnr_cut = psnr(one_piece, source, cut.frame), psnr(joined[0], source, cut.frame)
        print(f"size: one piece {size_one / 1024:.0f} KB, segmented {size_cut / 1024:.0f} KB "
              f"({(size_cut / size_one - 1) * 100:+.2f} %)")  # fmt: skip
        print(f"PSNR against the source: one piece {psnr_one:.2f} dB, segmented {psnr_cut:.2f} dB "
              f"({psnr_cut - psnr_one:+.2f} dB)")  # fmt: skip


if __name__ == "__main__":
    main()
