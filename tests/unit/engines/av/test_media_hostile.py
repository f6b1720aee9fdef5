"""Hostile media (docs/api.md "Media"): refused as conversion_failed or file_too_large, in bounded time, never
reading another file or opening a connection; and the sandbox's own limits, each seen to bite."""

import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from filegate.engines.av import engine as media_engine
from filegate.engines.av import ffmpeg
from filegate.errors import ApiError, ConversionFailed
from filegate.formats.options import MediaOptions
from filegate.formats.sniff import sniff
from filegate.formats.table import FORMATS
from filegate.tiers import TIERS
from tests.helpers import av_samples as av
from tests.helpers.listener import Listener

SANDBOX = ffmpeg.Sandbox(wall_seconds=30, cpu_seconds=30, memory_bytes=2 * 1024**3, max_output_bytes=50 * 1024**2)
BOUND_SECONDS = 10.0  # each hostile file is refused well within this


@pytest.fixture
def listener() -> Iterator[Listener]:
    server = Listener()
    yield server
    server.close()


@pytest.fixture
def workdir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as work:
        yield Path(work)


def _attempt(workdir: Path, data: bytes, target: str | None = None) -> ApiError:
    """Sniff and convert as the service does; the API error it ends in (a success fails the test)."""
    started = time.monotonic()
    try:
        source = sniff(data)
        path = workdir / "input"
        path.write_bytes(data)
        chosen = target or ("mp3" if FORMATS[source].kind == "audio" else "mp4")
        result = media_engine.convert_file(
            path, source, chosen, MediaOptions(), TIERS["pro"].media, workdir=workdir, sandbox=SANDBOX
        )
    except ApiError as exc:
        assert time.monotonic() - started < BOUND_SECONDS
        return exc
    raise AssertionError(f"hostile input converted: {result.metadata}")


def _nothing_leaked(workdir: Path) -> None:
    for path in workdir.rglob("*"):
        if path.is_file():
            assert av.PASSWD_MARKER not in path.read_bytes(), path


@pytest.mark.parametrize("make", [av.hls_playlist, av.avi_wrapped_playlist])
def test_playlists_never_read_files_or_connect(workdir: Path, listener: Listener, make) -> None:
    error = _attempt(workdir, make(listener.port))
    assert isinstance(error, ConversionFailed)
    time.sleep(0.3)
    assert listener.connections == 0
    _nothing_leaked(workdir)


def test_the_avi_playlist_is_really_an_avi_handed_to_ffmpeg(listener: Listener) -> None:
    assert sniff(av.avi_wrapped_playlist(listener.port)) == "avi"  # so FFmpeg's own defences are what is tested


def test_a_playlist_forced_through_the_confined_demuxer_is_not_followed(workdir: Path, listener: Listener) -> None:
    """Even if sniffing were fooled, the demuxer whitelist and file-only protocol hold: FFmpeg reading an
    HLS playlist as 'mpegts' (what a lying file would get) follows nothing."""
    path = workdir / "input"
    path.write_bytes(av.hls_playlist(listener.port))
    result = ffmpeg.run([*ffmpeg.input_args(path, "mpegts"), "-f", "null", "-"], SANDBOX, workdir=workdir)
    assert not result.ok
    time.sleep(0.3)
    assert listener.connections == 0
    assert "root:" not in result.stderr


def test_hls_demuxer_is_refused_by_the_whitelist_even_when_named(workdir: Path, listener: Listener) -> None:
    path = workdir / "input"
    path.write_bytes(av.hls_playlist(listener.port))
    args = ["-f", "hls", "-format_whitelist", "mpegts", "-protocol_whitelist", "file", "-i", f"file:{path}"]
    result = ffmpeg.run([*args, "-f", "null", "-"], SANDBOX, workdir=workdir)
    assert not result.ok and listener.connections == 0


@pytest.mark.parametrize(
    "make",
    [
        av.concat_list,
        av.truncated_mp4,
        lambda: av.wav_claiming(10 * 3600),
        av.avi_claiming_huge_frame,
        av.gif_claiming_huge_frame,
        lambda: av.gif_claiming_huge_frame(10000, 10000),
        lambda: av.avi_claiming_huge_frame(10000, 10000),
        av.zero_length_wav,
        av.zero_length_mkv,
    ],
    ids=["concat", "truncated-mp4", "wav-ten-hours", "avi-30000", "gif-30000", "gif-10000", "avi-10000",
         "zero-wav", "zero-mkv"],
)  # fmt: skip
def test_hostile_files_are_conversion_failed(workdir: Path, make) -> None:
    error = _attempt(workdir, make())
    assert error.status == 422 and error.code == "conversion_failed", error.message


@pytest.mark.parametrize(
    ("make", "target"),
    [(av.truncated_faststart_mp4, "webm"), (av.truncated_faststart_mp4, "mp4"), (av.truncated_faststart_mp4, "m4a")],
    ids=["faststart-mp4-to-webm", "faststart-mp4-to-mp4", "faststart-mp4-to-m4a"],
)
def test_media_cut_short_is_conversion_failed_not_a_shorter_output(workdir: Path, make, target: str) -> None:
    # Before, a cut-short +faststart MP4 gave 200 and a WebM of half its length.
    error = _attempt(workdir, make(), target)
    assert error.status == 422 and error.code == "conversion_failed"
    assert "truncated" in error.message


def test_whole_media_is_not_taken_for_truncated(workdir: Path) -> None:
    data = av.truncated_faststart_mp4(kept=1.0)
    path = workdir / "input"
    path.write_bytes(data)
    result = media_engine.convert_file(
        path, "mp4", "webm", MediaOptions(), TIERS["pro"].media, workdir=workdir, sandbox=SANDBOX
    )
    assert abs(float(result.metadata["duration"]) - 6.0) < 0.5


def test_wall_clock_limit_kills_the_whole_process_group(workdir: Path) -> None:
    sandbox = ffmpeg.Sandbox(wall_seconds=1.0, cpu_seconds=60, memory_bytes=2 * 1024**3, max_output_bytes=10**9)
    started = time.monotonic()
    result = ffmpeg.run(
        ["-re", "-f", "lavfi", "-i", "testsrc=size=64x48:rate=10", "-f", "null", "-"], sandbox, workdir=workdir
    )
    assert result.timed_out and result.killed_by() == "the time limit"
    assert time.monotonic() - started < 5
    with pytest.raises(ProcessLookupError):
        os.killpg(result.pid, 0)  # no member of its group is left


def test_cpu_limit_stops_a_spinning_child(workdir: Path) -> None:
    sandbox = ffmpeg.Sandbox(wall_seconds=30, cpu_seconds=1, memory_bytes=2 * 1024**3, max_output_bytes=10**9)
    args = [
        "-f",
        "lavfi",
        "-i",
        "mandelbrot=size=1280x720:rate=25",
        "-c:v",
        "libx264",
        "-preset",
        "slow",
        "-threads",
        "1",
        "-f",
        "null",
        "-",
    ]
    result = ffmpeg.run(args, sandbox, workdir=workdir)
    # Stopped by the CPU limit (SIGXCPU, then SIGKILL at the hard limit), long before the wall clock's 30 s.
    assert not result.timed_out and result.killed_by() == "the CPU time limit"


def test_memory_limit_refuses_a_huge_allocation(workdir: Path) -> None:
    sandbox = ffmpeg.Sandbox(wall_seconds=30, cpu_seconds=30, memory_bytes=200 * 1024**2, max_output_bytes=10**9)
    args = ["-f", "lavfi", "-i", "testsrc=size=8192x8192:rate=1", "-frames:v", "2", "-c:v", "png", "-f", "null", "-"]
    result = ffmpeg.run(args, sandbox, workdir=workdir)
    assert not result.ok  # allocations past the address-space limit fail; FFmpeg exits with an error


def test_output_size_cap_stops_the_writer(workdir: Path) -> None:
    sandbox = ffmpeg.Sandbox(wall_seconds=30, cpu_seconds=30, memory_bytes=2 * 1024**3, max_output_bytes=100_000)
    args = [
        "-f",
        "lavfi",
        "-i",
        "sine=duration=30",
        "-c:a",
        "pcm_s16le",
        "-f",
        "wav",
        "-y",
        f"file:{workdir / 'out.wav'}",
    ]
    result = ffmpeg.run(args, sandbox, workdir=workdir)
    assert result.killed_by() == "the output size limit"
    assert (workdir / "out.wav").stat().st_size <= 100_000
    with pytest.raises(ConversionFailed, match="output size limit"):
        raise ffmpeg.failure(result, "conversion")
