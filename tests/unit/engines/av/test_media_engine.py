"""Every media pair converts and its output is probed back; options, units and tier limits hold."""

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from filegate.engines.av import engine as media_engine
from filegate.engines.av import ffmpeg
from filegate.engines.av import planner as media_planner
from filegate.engines.av import probe as media_probe
from filegate.errors import FileTooLarge, InvalidParameter, UnsupportedConversion
from filegate.formats.options import MediaOptions
from filegate.formats.sniff import sniff
from filegate.formats.table import is_media_conversion, targets_for
from filegate.tiers import TIERS
from tests.helpers import av_samples as av

SANDBOX = ffmpeg.Sandbox(wall_seconds=60, cpu_seconds=120, memory_bytes=3 * 1024**3, max_output_bytes=200 * 1024**2)
CODECS = {
    "mp4": ("h264", "aac"),
    "webm": ("vp9", "opus"),
    "gif": ("gif", None),
    "mp3": (None, "mp3"),
    "m4a": (None, "aac"),
    "opus": (None, "opus"),
    "wav": (None, "pcm_s16le"),
    "flac": (None, "flac"),
}
SECONDS = 1.0
FRAME = 1 / 10  # the samples' frame duration (10 fps)
PAIRS = [
    (s, t)
    for s in (*av.VIDEO_INPUTS, *av.AUDIO_INPUTS, *av.ANIMATED_IMAGES)
    for t in targets_for(s)
    if is_media_conversion(s, t)
]


@pytest.fixture
def workdir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as work:
        yield Path(work)


def convert(workdir: Path, data: bytes, target: str, tier: str = "pro", **options: object) -> media_engine.MediaResult:
    source = sniff(data)
    path = workdir / "input"
    path.write_bytes(data)
    return media_engine.convert_file(
        path,
        source,
        target,
        MediaOptions(**options),
        TIERS[tier].media,
        workdir=workdir,
        sandbox=SANDBOX,  # type: ignore[arg-type]
    )


def streams(metadata: dict, kind: str) -> list[dict]:
    return [s for s in metadata["streams"] if s["type"] == kind]


@pytest.mark.parametrize(("source", "target"), [("mp4", "mp4"), ("mkv", "webm"), ("wav", "mp3"), ("mp4", "m4a")])
def test_the_output_described_from_the_run_is_what_a_probe_of_it_reads(workdir: Path, source: str, target: str) -> None:
    """The metadata comes from FFmpeg's report of the conversion (no second probe): it must say what a probe
    of the written file says."""
    sized = {"width": 32} if target in ("mp4", "webm") else {}
    result = convert(workdir, av.sample(source, 2.0), target, **sized)
    demuxer = {"mp4": "mov", "webm": "matroska", "mp3": "mp3", "m4a": "mov"}[target]
    probed = media_probe.probe(result.path, target, demuxer, workdir=workdir).to_json()
    described = result.metadata
    assert described["streams"] == probed["streams"]
    assert abs(described["duration"] - probed["duration"]) <= FRAME, (described, probed)
    assert probed["bit_rate"] is not None
    assert abs(described["bit_rate"] - probed["bit_rate"]) <= 0.1 * probed["bit_rate"], (described, probed)


@pytest.mark.parametrize(("source", "target"), PAIRS)
def test_every_pair_converts_and_reads_back(workdir: Path, source: str, target: str) -> None:
    result = convert(workdir, av.sample(source, SECONDS), target)
    meta = result.metadata
    assert result.format == target and result.units == 1
    assert sniff(result.path.read_bytes()[:4096]) == target
    if target in ("jpg", "png", "webp"):
        assert meta == {"kind": "image", "format": target, "width": 64, "height": 48}
        return
    video_codec, audio_codec = CODECS[target]
    assert abs(meta["duration"] - SECONDS) <= FRAME + 0.03, meta  # within a frame (+ codec padding)
    if video_codec:
        (video,) = streams(meta, "video")
        assert (video["codec"], video["width"], video["height"]) == (video_codec, 64, 48)
    else:
        assert not streams(meta, "video")
    has_audio_input = source in (*av.AUDIO_INPUTS, *av.VIDEO_INPUTS)
    if audio_codec and has_audio_input:
        (audio,) = streams(meta, "audio")
        assert audio["codec"] == audio_codec and audio["channels"] == 1
    else:
        assert not streams(meta, "audio")


def test_trim_size_fps_and_mute_are_honoured(workdir: Path) -> None:
    clip = av.sample("mp4", 3.0, 320, 240, 25)
    meta = convert(workdir, clip, "mp4", start=1.0, duration=1.5, width=160, fps=10, mute=True).metadata
    assert abs(meta["duration"] - 1.5) <= 0.1
    assert streams(meta, "video")[0] | {"codec": "h264"} == {
        "type": "video", "codec": "h264", "width": 160, "height": 120, "fps": 10.0
    }  # fmt: skip
    assert not streams(meta, "audio")


def test_cover_crops_to_the_exact_frame_and_sizes_are_even(workdir: Path) -> None:
    clip = av.sample("mp4", 1.0, 320, 240, 10)
    cover = streams(convert(workdir, clip, "webm", width=101, height=101, fit="cover").metadata, "video")[0]
    assert (cover["width"], cover["height"]) == (100, 100)  # 101 is odd: VP9's 4:2:0 needs even sides
    contain = streams(convert(workdir, clip, "mp4", width=100, height=100).metadata, "video")[0]
    assert (contain["width"], contain["height"]) == (100, 76)  # 100x75, rounded to even for H.264


def test_quality_changes_the_output_size(workdir: Path) -> None:
    clip = av.sample("mp4", 2.0, 320, 240, 25)
    low = convert(workdir, clip, "mp4", quality=5).path.stat().st_size
    high = convert(workdir, clip, "mp4", quality=95).path.stat().st_size
    assert high > low * 1.2


def test_audio_bitrate_is_honoured(workdir: Path) -> None:
    clip = av.sample("wav", 2.0, rate=44100)
    meta = convert(workdir, clip, "mp3", audio_bitrate=320).metadata
    assert 280_000 <= meta["bit_rate"] <= 340_000


def test_thumbnail_at_picks_the_frame(workdir: Path) -> None:
    clip = av.sample("mp4", 2.0, 320, 240, 25)
    first = convert(workdir, clip, "png", at=0.0).path.read_bytes()
    later = convert(workdir, clip, "png", at=1.5).path.read_bytes()
    assert first != later  # testsrc moves: another instant is another picture
    with pytest.raises(InvalidParameter, match=r"^at must be before the end"):
        convert(workdir, clip, "jpg", at=2.5)


def test_units_are_one_per_started_minute_of_output() -> None:
    info = media_probe.MediaInfo(
        "mp3", 90.0, 64000, [media_probe.StreamInfo("audio", "mp3", sample_rate=22050, channels=1)]
    )
    assert media_planner.plan(info, "wav", MediaOptions(), TIERS["pro"].media).units == 2
    assert media_planner.plan(info, "wav", MediaOptions(duration=60), TIERS["pro"].media).units == 1
    assert media_planner.plan(info, "wav", MediaOptions(start=29.5), TIERS["pro"].media).units == 2
    assert media_planner.plan(info, "wav", MediaOptions(start=30), TIERS["pro"].media).units == 1


def test_a_90_second_clip_is_two_units(workdir: Path) -> None:
    result = convert(workdir, av.sample("mp3", 90.0, rate=8000), "opus", audio_bitrate=32)
    assert result.units == 2 and abs(result.metadata["duration"] - 90) < 0.2


def test_tier_duration_and_frame_limits() -> None:
    video = media_probe.StreamInfo("video", "h264", 1920, 1080, 30.0)
    long_clip = media_probe.MediaInfo("mp4", 180.0, None, [video])
    with pytest.raises(FileTooLarge, match="limit of 120 s"):
        media_planner.plan(long_clip, "mp4", MediaOptions(), TIERS["free"].media)
    media_planner.plan(long_clip, "mp4", MediaOptions(), TIERS["pro"].media)
    hd = media_probe.MediaInfo("mp4", 10.0, None, [video])
    with pytest.raises(FileTooLarge, match="limit of 1280x720"):
        media_planner.plan(hd, "mp4", MediaOptions(), TIERS["free"].media)
    assert media_planner.plan(hd, "mp4", MediaOptions(width=1280), TIERS["free"].media).frame == (1280, 720)
    # Larger than the source only with enlarge (docs/api.md §4); then the tier's frame limit decides.
    upscale = MediaOptions(width=3840, enlarge=True)
    with pytest.raises(InvalidParameter, match=r"^width/height: the output frame 3840x2160"):
        media_planner.plan(hd, "mp4", upscale, TIERS["pro"].media)
    assert media_planner.plan(hd, "mp4", upscale, TIERS["enterprise"].media).frame == (3840, 2160)
    portrait = media_probe.MediaInfo("mp4", 10.0, None, [media_probe.StreamInfo("video", "h264", 720, 1280, 30.0)])
    assert media_planner.plan(portrait, "mp4", MediaOptions(), TIERS["free"].media).frame == (720, 1280)


def test_pairs_need_the_right_streams(workdir: Path) -> None:
    no_audio = av.sample("gif")
    path = workdir / "in.gif"
    path.write_bytes(no_audio)
    info = media_probe.probe(path, "gif", "gif", workdir=workdir)
    with pytest.raises(UnsupportedConversion, match="no audio stream"):
        media_planner.plan(info, "mp3", MediaOptions(), TIERS["pro"].media)


def test_phone_video_is_probed_upright_and_surround_is_downmixed(workdir: Path) -> None:
    """A portrait phone clip is stored landscape with a rotation in its header; 5.1 audio becomes stereo."""
    made = workdir / "made.mp4"
    av.ffmpeg(
        "-f", "lavfi", "-i", "testsrc=size=160x90:rate=10:duration=1", "-f", "lavfi", "-i", "sine=duration=1",
        "-filter_complex", "[1:a]pan=5.1|c0=c0|c1=c0|c2=c0|c3=c0|c4=c0|c5=c0[a]", "-map", "0:v", "-map", "[a]",
        "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", str(made),
    )  # fmt: skip
    rotated = workdir / "rotated.mp4"
    av.ffmpeg("-display_rotation", "90", "-i", str(made), "-c", "copy", str(rotated))
    info = media_probe.probe(rotated, "mp4", "mov", workdir=workdir)
    assert (info.video.width, info.video.height) == (90, 160) and info.audio.channels == 6
    meta = convert(workdir, rotated.read_bytes(), "mp4").metadata
    assert (streams(meta, "video")[0]["width"], streams(meta, "video")[0]["height"]) == (90, 160)
    assert streams(meta, "audio")[0]["channels"] == 2


@pytest.mark.parametrize(
    ("options", "frame"),
    [
        (MediaOptions(width=1280), (320, 240)),  # never enlarged beyond the input's frame (docs/api.md §4)...
        (MediaOptions(height=480), (320, 240)),
        (MediaOptions(width=640, height=640, fit="cover"), (240, 240)),  # the box, shrunk to fit the frame
        (MediaOptions(width=160), (160, 120)),  # shrinking is what width/height are for
        (MediaOptions(width=640, enlarge=True), (640, 480)),  # ...unless enlarge is true
    ],
)
def test_width_and_height_never_enlarge_a_frame_unless_asked(options: MediaOptions, frame: tuple[int, int]) -> None:
    assert media_planner.output_frame(320, 240, options, TIERS["pro"].media, even=True) == frame
