"""Long media for the segment tests: a clip whose picture and tone change over time, and the checks that its
conversion is seamless, made on the real output (decoded by FFmpeg), never on our own bookkeeping.

The tone steps every TONE_STEP_SECONDS (440 Hz, 550 Hz, …), so a window that is silent, or whose pitch is not
the one of its time, shows a gap or a shift at a join.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from filegate.engines.av import segments
from filegate.engines.av.ffmpeg import ffmpeg_binary
from tests.helpers.av_samples import ffmpeg

TONE_STEP_SECONDS = 10
AUDIO_RATE = 48_000
AAC_FRAME_SECONDS = 1024 / AUDIO_RATE


def tone_at(seconds: float) -> float:
    return 440.0 + 110.0 * (seconds // TONE_STEP_SECONDS)


def make_clip(path: Path, seconds: float, fps: int, *, size: str = "320x240", container: str = "mp4") -> Path:
    """An H.264 + AAC clip (or VP9 + Opus for webm): a moving test pattern, a tone that steps every 10 s,
    keyframes every 2 s (so a segment's seek lands between keyframes and must decode up to its frame)."""
    video = ["-c:v", "libx264", "-preset", "ultrafast", "-g", str(2 * fps), "-pix_fmt", "yuv420p"]
    audio = ["-c:a", "aac"]
    if container == "mpegts":
        audio = ["-c:a", "aac"]
    elif container == "webm":
        video = ["-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-g", str(2 * fps)]
        audio = ["-c:a", "libopus"]
    ffmpeg(
        "-f", "lavfi", "-i", f"testsrc2=size={size}:rate={fps}:duration={seconds}",
        "-f", "lavfi", "-i", f"aevalsrc=0.5*sin(2*PI*(440+110*floor(t/{TONE_STEP_SECONDS}))*t):s={AUDIO_RATE}:d={seconds}",
        *video, *audio, "-f", container, str(path),
        timeout=600,
    )  # fmt: skip
    return path


@dataclass(frozen=True)
class Stream:
    pts: list[float]  # each decoded frame's start, seconds
    durations: list[float]
    errors: str  # FFmpeg's error output while decoding it all

    @property
    def end(self) -> float:
        return self.pts[-1] + self.durations[-1] if self.pts else 0.0


def decoded(path: Path, which: str) -> Stream:
    """Every frame of the first `which` ("v" or "a") stream, decoded: its timestamps, and any decode error."""
    result = subprocess.run(
        [ffmpeg_binary(), "-nostdin", "-v", "error", "-i", str(path), "-map", f"0:{which}:0", "-f", "framemd5", "-"],
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    base = Fraction(1)
    pts: list[float] = []
    durations: list[float] = []
    for line in result.stdout.splitlines():
        found = re.match(r"#tb 0: (\d+)/(\d+)", line)
        if found:
            base = Fraction(int(found.group(1)), int(found.group(2)))
            continue
        if line.startswith("#") or not line.strip():
            continue
        _, _, frame_pts, duration, *_ = [part.strip() for part in line.split(",")]
        pts.append(float(int(frame_pts) * base))
        durations.append(float(int(duration) * base))
    return Stream(pts, durations, result.stderr.strip())


def pcm(path: Path) -> np.ndarray:
    """The first audio stream decoded to mono float samples at AUDIO_RATE."""
    result = subprocess.run(
        [ffmpeg_binary(), "-nostdin", "-v", "error", "-i", str(path), "-map", "0:a:0", "-ac", "1",
         "-ar", str(AUDIO_RATE), "-f", "f32le", "-"],
        capture_output=True, timeout=600, check=True,
    )  # fmt: skip
    return np.frombuffer(result.stdout, dtype=np.float32)


def check_seamless(output: Path, source: Path, fps: float, joins: list[float]) -> None:
    """docs/api.md "Long media": the output of a segmented conversion is one seamless file (asserts)."""
    frame = 1 / fps
    video, original = decoded(output, "v"), decoded(source, "v")
    assert not video.errors, video.errors  # no decode error
    assert abs(len(video.pts) - len(original.pts)) <= 1, (len(video.pts), len(original.pts))
    length = original.end - original.pts[0]  # an MPEG-TS input starts at its own offset
    assert abs(video.end - length) <= frame + 1e-3, (video.end, length)
    assert abs(video.pts[0]) < 1e-3, video.pts[0]  # starts at 0
    steps = np.diff(np.array(video.pts))
    assert (steps > 0).all(), "timestamps go back or repeat"
    assert steps.max() <= frame * 1.5, f"a hole of {steps.max():.4f} s at {video.pts[int(steps.argmax())]:.3f} s"
    audio = decoded(output, "a")
    assert not audio.errors, audio.errors
    assert abs(audio.pts[0]) <= 1e-3 + AAC_FRAME_SECONDS, audio.pts[0]  # from 0 (after the codec's priming)
    assert abs(audio.end - video.end) <= frame + AAC_FRAME_SECONDS + 1e-3, (audio.end, video.end)
    a_steps = np.diff(np.array(audio.pts))
    assert (a_steps > 0).all() and (a_steps <= max(audio.durations) * 1.01).all(), "the audio has a hole"
    _check_tone(pcm(output), joins, video.end)


def _check_tone(samples: np.ndarray, joins: list[float], seconds: float) -> None:
    """No silence anywhere near a join, and every window's pitch is the tone of its time (no shift)."""
    window = int(0.01 * AUDIO_RATE)  # 10 ms: a few periods of the tone
    for at in joins:
        first = int((at - 0.5) * AUDIO_RATE)
        for start in range(max(0, first), min(len(samples) - window, first + AUDIO_RATE), window // 2):
            rms = float(np.sqrt(np.mean(samples[start : start + window] ** 2)))
            assert rms > 0.1, f"silence near the join at {at:.3f} s ({start / AUDIO_RATE:.3f} s: rms {rms:.3f})"
    for second in range(int(seconds) - 1):
        if second % TONE_STEP_SECONDS == TONE_STEP_SECONDS - 1:
            continue  # the step itself
        chunk = samples[second * AUDIO_RATE : (second + 1) * AUDIO_RATE]
        spectrum = np.abs(np.fft.rfft(chunk * np.hanning(len(chunk))))
        peak = float(np.argmax(spectrum)) * AUDIO_RATE / len(chunk)
        assert abs(peak - tone_at(second + 0.5)) <= 3, f"{peak:.1f} Hz at {second} s, not {tone_at(second + 0.5)}"


class FileOutput:
    """A StreamedOutput that stores in a local file (the engine's tests, without S3; files.growing_upload is
    the real one): `stored` is what would have been uploaded."""

    def __init__(self, path: Path, stored: Path) -> None:
        self.path, self.stored = path, stored
        self.pumps = 0

    def pump(self, keep_bytes: int, paused: Callable[[], AbstractContextManager[None]]) -> None:
        self.pumps += 1

    def size(self) -> int:
        return self.path.stat().st_size

    def read(self, offset: int, length: int) -> bytes:
        with self.path.open("rb") as handle:
            handle.seek(offset)
            return handle.read(length)

    def finish(self, front: bytes = b"", cut: int = 0, end: int | None = None) -> int:
        end = self.size() if end is None else end
        self.stored.write_bytes(front + self.read(cut, end - cut))
        return self.stored.stat().st_size


def grainy_pieces(folder: Path, target: str, seconds: list[int]) -> segments.SegmentPlan:
    """Pieces of a join, made directly (grainy, so a few seconds weigh megabytes): video segments of
    `seconds` each and the whole audio track, as the piece encodes store them."""
    video = {
        "mp4": ["-c:v", "libx264", "-preset", "ultrafast", "-b:v", "10M"],
        "webm": ["-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "10M"],
    }[target]
    audio = {"mp4": ["-c:a", "aac", "-f", "ipod"], "webm": ["-c:a", "libopus", "-f", "webm"]}[target]
    grain = "testsrc2=size=640x360:rate=25,noise=alls=60:allf=t"
    pieces = [segments.Piece(segments.AUDIO, 0.0, None, float(sum(seconds)))]
    for k, length in enumerate(seconds):
        pieces.append(segments.Piece(f"v{k:04d}", float(sum(seconds[:k])), length * 25, float(length)))
    plan = segments.SegmentPlan("mp4", target, "25", (640, 360), float(sum(seconds)), 1, pieces, [], [])
    for piece in plan.video_pieces:
        path = folder / plan.file_name(piece.name)
        ffmpeg("-f", "lavfi", "-i", grain, "-t", str(piece.seconds), *video, "-f", target, str(path))
    sine = ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", str(plan.output_seconds)]
    ffmpeg(*sine, *audio, str(folder / plan.file_name(segments.AUDIO)))
    return plan


def served(data: bytes) -> tuple[int, Callable[[int, int], Iterator[bytes]]]:
    """An object for HttpSource: its size and a reader of its bytes [first, last] (as Bucket.read_range)."""
    return len(data), lambda first, last: iter([data[first : last + 1]])


def served_pieces(
    folder: Path, plan: segments.SegmentPlan
) -> dict[str, tuple[int, Callable[[int, int], Iterator[bytes]]]]:
    """Every piece of `plan` stored in `folder`, for HttpSource.of (as the join reads them from S3)."""
    return {plan.file_name(p.name): served((folder / plan.file_name(p.name)).read_bytes()) for p in plan.pieces}
