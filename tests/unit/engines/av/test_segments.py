"""Long media in segments (docs/api.md "Long media"): a clip cut into segments, each converted from its own seek
point over loopback HTTP in ranges, and joined without re-encoding, is seamless by every invariant, checked
on the decoded output (tests/helpers/long_media.py); and the plan cuts on the output frame grid."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from filegate.engines import Segmenting, Source, Workspace
from filegate.engines.av import ffmpeg, mp4_index, segments
from filegate.engines.av.engine import ENGINE
from filegate.engines.av.planner import plan_segments
from filegate.engines.av.probe import MediaInfo, StreamInfo
from filegate.engines.interface import RunLimits
from filegate.errors import FileTooLarge
from filegate.files.growing_upload import AHEAD_PARTS, GrowingUpload
from filegate.files.http_source import HttpSource
from filegate.formats.options import MediaOptions
from filegate.tiers import TIERS
from tests.helpers import long_media as long

SEGMENTING = Segmenting(above_seconds=30, segment_seconds=15)
MB5 = 5 * 1024 * 1024  # S3's smallest part
LIMITS = RunLimits(wall_seconds=300, cpu_seconds=600, memory_mb=3072, max_output_mb=1024)


@pytest.fixture
def workdir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as work:
        yield Path(work)


def _info(seconds: float, fps: float | None, size: tuple[int, int] = (320, 240), audio: bool = True) -> MediaInfo:
    streams = [StreamInfo("video", "h264", size[0], size[1], fps)]
    if audio:
        streams.append(StreamInfo("audio", "aac", sample_rate=48000, channels=2))
    return MediaInfo("mp4", seconds, 1_000_000, streams)


def test_segments_lie_on_the_output_frame_grid_and_cover_every_frame() -> None:
    cut = plan_segments(_info(70.0, 29.97), "mp4", MediaOptions(start=3.0), TIERS["pro"].media, SEGMENTING)
    assert cut is not None and cut.rate == "30000/1001"
    video = cut.video_pieces
    assert sum(p.frames or 0 for p in video) == 2008  # ceil(67 s x 30000/1001): what a one-piece run keeps
    assert {p.frames for p in video[:-1]} == {450}  # 15 s of frames each, the last one shorter
    for k, piece in enumerate(video):
        assert piece.seek == pytest.approx(3.0 + k * 450 * 1001 / 30000)
    assert [p.name for p in cut.audio_pieces] == ["a0000", "a0001"] and cut.units == 2  # queued first
    assert cut.pieces[:2] == cut.audio_pieces


def test_what_is_not_cut() -> None:
    media = TIERS["pro"].media
    assert plan_segments(_info(30.0, 25), "mp4", MediaOptions(), media, SEGMENTING) is None  # not long enough
    assert plan_segments(_info(70.0, 25), "gif", MediaOptions(), media, SEGMENTING) is None  # one palette
    assert plan_segments(_info(70.0, 25), "mp3", MediaOptions(), media, SEGMENTING) is None  # audio
    muted = plan_segments(_info(70.0, 25), "webm", MediaOptions(mute=True), media, SEGMENTING)
    assert muted is not None and not muted.has_audio
    unstated = plan_segments(_info(70.0, None), "mp4", MediaOptions(), media, SEGMENTING)
    assert unstated is not None and unstated.rate == "25"  # still cut: one piece could outlast the worker
    big = plan_segments(_info(70.0, 25, (3840, 2160)), "mp4", MediaOptions(), TIERS["enterprise"].media, SEGMENTING)
    assert big is not None and big.video_pieces[0].frames == round(7.5 * 25)  # half as long above 1080p


def convert_in_segments(
    source: Path, fmt: str, target: str, workdir: Path, segmenting: Segmenting = SEGMENTING
) -> tuple[Path, segments.SegmentPlan]:
    """What the fan-out does, in one process: plan, every piece from the served input, join."""
    data = source.read_bytes()
    workspace = Workspace(workdir, limits=LIMITS, segmenting=segmenting)
    with HttpSource(*long.served(data)) as url:
        served = Source(fmt, url=url, head=data[:4096])
        options, tier = MediaOptions(), TIERS["pro"]
        probe = ENGINE.probe(served, tier, workspace)
        cut = ENGINE.segment(probe, ENGINE.plan(fmt, target, options, tier, probe), options, tier, segmenting)
        assert cut is not None and len(cut.video_pieces) >= 4
        for piece in cut.pieces:
            ENGINE.run_piece(cut, piece.name, served, workspace)
    pieces = long.served_pieces(workdir, cut)
    (workdir / "join").mkdir()
    sink = long.FileOutput(workdir / "join" / f"output.{target}", workdir / f"output.{target}")
    with HttpSource.of(pieces) as pieces_url:
        output = ENGINE.join_pieces(cut, pieces_url, replace(workspace, workdir=workdir / "join"), sink)
    assert output.metadata is not None and output.size == sink.stored.stat().st_size
    return sink.stored, cut


def joins_of(cut: segments.SegmentPlan) -> list[float]:
    """Where the output's pieces meet: every video segment's start and every audio piece's but the first."""
    return [piece.seek for piece in (*cut.video_pieces[1:], *cut.audio_pieces[1:])]


@pytest.mark.parametrize(
    ("source_format", "target", "fps"),
    [("mp4", "mp4", 25), ("mp4", "mp4", 24), ("mp4", "webm", 25), ("mp4", "webm", 24), ("ts", "mp4", 25)],
)
def test_a_segmented_conversion_is_seamless(workdir: Path, source_format: str, target: str, fps: int) -> None:
    """MPEG-TS has no index: a segment's seek searches by timestamp, and must land on the same frames."""
    container = {"mp4": "mp4", "ts": "mpegts"}[source_format]
    source = long.make_clip(workdir / f"input.{source_format}", 62.0, fps, container=container)
    output, cut = convert_in_segments(source, source_format, target, workdir)
    long.check_seamless(output, source, fps, joins_of(cut))


@pytest.mark.parametrize(("tier", "hours"), [("pro", 3), ("enterprise", 6)])
def test_long_media_limits_are_probed_before_any_work(tier: str, hours: int) -> None:
    """docs/api.md §2: pro 3 h, enterprise 6 h; one second more is 413 from the probe alone, nothing run."""
    media = TIERS[tier].media
    cut = plan_segments(_info(hours * 3600.0, 25), "mp4", MediaOptions(), media, SEGMENTING)
    assert cut is not None and len(cut.video_pieces) == hours * 3600 // 15
    with pytest.raises(FileTooLarge):
        plan_segments(_info(hours * 3600.0 + 1, 25), "mp4", MediaOptions(), media, SEGMENTING)


@pytest.mark.parametrize("target", ["mp4", "webm"])
def test_a_join_streams_its_output_to_s3_as_it_grows(
    workdir: Path, moto_bucket: tuple[Any, Any], monkeypatch: pytest.MonkeyPatch, target: str
) -> None:
    """The object is byte for byte what a join into a local file gives (mp4: its index moved to the front),
    while the disk never held the whole output: parts went to S3, and their disk was freed, as FFmpeg wrote."""
    files, s3 = moto_bucket
    plan = long.grainy_pieces(workdir, target, [10, 10, 10, 10])
    monkeypatch.setattr(ffmpeg, "PROGRESS_POLL_SECONDS", 0.01)  # a local join is quick: pump often
    pieces = long.served_pieces(workdir, plan)
    workspace = Workspace(workdir, limits=LIMITS, segmenting=SEGMENTING)
    reference = long.FileOutput(workdir / f"local.{target}", workdir / f"reference.{target}")
    most = 0
    with HttpSource.of(pieces) as url:
        ENGINE.join_pieces(plan, url, workspace, reference)
        with GrowingUpload(files, "out", workdir / f"out.{target}", "video/x", part_bytes=MB5) as sink:
            pump = sink.pump

            def watched(keep: int, paused: Any) -> None:
                nonlocal most
                most = max(most, os.stat(sink.path).st_blocks * 512)
                pump(keep, paused)
                most = max(most, os.stat(sink.path).st_blocks * 512)

            monkeypatch.setattr(sink, "pump", watched)
            output = ENGINE.join_pieces(plan, url, workspace, sink)
    stored = s3.get_object(Bucket="files", Key="out")["Body"].read()
    assert stored == reference.stored.read_bytes() and output.size == len(stored)
    # On disk at most: the head, the parts FFmpeg may run ahead by (it is then held still while they are sent),
    # the part being filled, the trailer kept back, and what FFmpeg wrote between two pumps.
    bound = (2 + AHEAD_PARTS) * MB5 + segments.trailer_bytes(plan) + MB5
    assert most <= bound < len(stored)
    if target == "mp4":
        kinds = [box.kind for box in mp4_index.top_level(lambda at, n: stored[at : at + n], len(stored))]
        assert kinds.index(b"moov") < kinds.index(b"mdat")  # +faststart (docs/api.md "Media")
