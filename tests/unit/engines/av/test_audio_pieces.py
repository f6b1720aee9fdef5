"""Long media's AAC audio in pieces (engines/av/segments.py, adts.py): cut on the AAC frame grid, each piece
encoded with the audio around it and cut to its own frames, joined end to end. Held on the decoded output:
by the tone checker of the video joins (no silence, no pitch shift at any join) and, stricter, against a
one-piece conversion sample by sample (a join off by one sample, or a click, would show)."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from test_segments import _info, convert_in_segments, joins_of

from filegate.engines import Segmenting
from filegate.engines.av import adts, ffmpeg, segments
from filegate.engines.av import engine as media_engine
from filegate.engines.av.planner import plan_segments
from filegate.engines.av.probe import MediaInfo, StreamInfo
from filegate.errors import ConversionFailed
from filegate.formats.options import MediaOptions
from filegate.tiers import TIERS
from tests.helpers import long_media as long

PRODUCTION = Segmenting(above_seconds=300, segment_seconds=45)  # the media worker's defaults (settings.py)
SHORT = Segmenting(above_seconds=10, segment_seconds=5)  # audio pieces of 20 s: several joins in a short clip
SANDBOX = ffmpeg.Sandbox(wall_seconds=120, cpu_seconds=240, memory_bytes=3 * 1024**3, max_output_bytes=200 * 1024**2)
JOIN_WINDOW = int(0.05 * long.AUDIO_RATE)  # samples either side of a join compared with the one-piece output
MAX_JOIN_DIFFERENCE = 1e-3  # two encodes of the same audio differ by ~1e-5; one sample off a tone by ~0.03


@pytest.fixture
def workdir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as work:
        yield Path(work)


def _with_rate(seconds: float, rate: int | None) -> MediaInfo:
    streams = [StreamInfo("video", "h264", 320, 240, 25.0), StreamInfo("audio", "aac", sample_rate=rate, channels=2)]
    return MediaInfo("mp4", seconds, 1_000_000, streams)


def test_aac_audio_is_cut_on_its_frame_grid_into_pieces_of_a_few_minutes() -> None:
    """A 6-hour output (enterprise): audio pieces of 4 segments' length, each starting on the AAC frame grid,
    covering the output exactly; so the audio's longest piece is 3 minutes of audio, not 6 hours."""
    hours = 6 * 3600.0
    cut = plan_segments(_info(hours, 25), "mp4", MediaOptions(), TIERS["enterprise"].media, PRODUCTION)
    assert cut is not None and cut.audio_rate == 48_000
    audio = cut.audio_pieces
    assert [p.name for p in audio] == [f"a{k:04d}" for k in range(len(audio))] and len(audio) == 120
    frame = adts.SAMPLES_PER_FRAME / 48_000
    assert cut.audio_piece_frames == round(4 * 45 / frame)
    for piece in audio:
        assert piece.seek / frame == pytest.approx(round(piece.seek / frame), abs=1e-6)  # on the frame grid
    assert sum(p.seconds for p in audio) == pytest.approx(hours)
    assert max(p.seconds for p in audio) <= 4 * 45 + frame


@pytest.mark.parametrize(
    ("target", "rate"), [("webm", 48_000), ("mp4", None), ("mp4", 12_345)], ids=["opus", "no rate", "odd rate"]
)
def test_what_keeps_its_audio_whole(target: str, rate: int | None) -> None:
    """Opus (webm) stays one piece (segments.py says why); so does audio whose rate the AAC encoder would change."""
    cut = plan_segments(_with_rate(3600.0, rate), target, MediaOptions(), TIERS["pro"].media, PRODUCTION)
    assert cut is not None and [p.name for p in cut.audio_pieces] == [segments.AUDIO]
    assert cut.audio_piece_frames == 0


def test_a_hostile_audio_piece_is_refused() -> None:
    good = bytes([0xFF, 0xF1, 0x50, 0x80, 0x01, 0x1F, 0xFC]) + b"\0" * 1  # one 8-byte frame
    assert len(adts.frames(good * 3)) == 3
    for broken in (good[:-1], b"\0" * 8 + good, good[:4] + bytes([0x00, 0x1F, 0xFC]) + b"\0"):
        with pytest.raises(ConversionFailed):
            adts.frames(broken)


def _one_piece(source: Path, workdir: Path) -> Path:
    folder = workdir / "one-piece"
    folder.mkdir()
    result = media_engine.convert_file(
        source, "mp4", "mp4", MediaOptions(), TIERS["pro"].media, workdir=folder, sandbox=SANDBOX
    )
    path: Path = result.path
    return path


def test_joined_aac_pieces_are_the_one_piece_audio(workdir: Path) -> None:
    source = long.make_clip(workdir / "input.mp4", 46.0, 25)
    output, cut = convert_in_segments(source, "mp4", "mp4", workdir, SHORT)
    cut_joins = [piece.seek for piece in cut.audio_pieces[1:]]  # about 20 s and 40 s, on the frame grid
    assert len(cut_joins) == 2
    assert [round(j * long.AUDIO_RATE) % adts.SAMPLES_PER_FRAME for j in cut_joins] == [0, 0]
    long.check_seamless(output, source, 25, joins_of(cut))
    ours, reference = long.pcm(output), long.pcm(_one_piece(source, workdir))
    assert abs(len(ours) - len(reference)) <= adts.SAMPLES_PER_FRAME  # at most the last frame's padding
    start = float(np.abs(ours[:JOIN_WINDOW] - reference[:JOIN_WINDOW]).max())
    assert start <= MAX_JOIN_DIFFERENCE, f"{start:.4f} off at the start: the priming is not skipped as in one piece"
    for at in cut_joins:
        middle = round(at * long.AUDIO_RATE)
        window = slice(middle - JOIN_WINDOW, middle + JOIN_WINDOW)
        worst = float(np.abs(ours[window] - reference[window]).max())
        assert worst <= MAX_JOIN_DIFFERENCE, f"{worst:.4f} off the one-piece audio at the join at {at:.3f} s"
