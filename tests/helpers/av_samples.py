"""Audio and video made on the fly with the FFmpeg binary itself (lavfi testsrc/sine), plus hostile media.

No binary fixtures in the repository; clips are tiny (a second or two, small frames) so tests stay fast.
Used by tests/unit/media, tests/integration/test_media_api.py and tests/bench/bench_media.py.
"""

from __future__ import annotations

import functools
import struct
import subprocess
import tempfile
from pathlib import Path

from filegate.engines.av.ffmpeg import ffmpeg_binary

# How each input format is written: (muxer, video codec args or None, audio codec args or None).
_RECIPES: dict[str, tuple[str, list[str] | None, list[str] | None]] = {
    "mp4": ("mp4", ["-c:v", "libx264", "-pix_fmt", "yuv420p"], ["-c:a", "aac"]),
    "mov": ("mov", ["-c:v", "libx264", "-pix_fmt", "yuv420p"], ["-c:a", "aac"]),
    "m4a": ("ipod", None, ["-c:a", "aac"]),
    "webm": ("webm", ["-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8"], ["-c:a", "libopus"]),
    "mkv": ("matroska", ["-c:v", "libx264", "-pix_fmt", "yuv420p"], ["-c:a", "flac"]),
    "avi": ("avi", ["-c:v", "mjpeg"], ["-c:a", "pcm_s16le"]),
    "ts": ("mpegts", ["-c:v", "libx264", "-pix_fmt", "yuv420p"], ["-c:a", "aac"]),
    "flv": ("flv", ["-c:v", "libx264", "-pix_fmt", "yuv420p"], ["-c:a", "aac"]),
    "ogg": ("ogg", ["-c:v", "libtheora"], ["-c:a", "libvorbis"]),
    "opus": ("ogg", None, ["-c:a", "libopus"]),
    "wav": ("wav", None, ["-c:a", "pcm_s16le"]),
    "flac": ("flac", None, ["-c:a", "flac"]),
    "mp3": ("mp3", None, ["-c:a", "libmp3lame"]),
    "aac": ("adts", None, ["-c:a", "aac"]),
    "gif": ("gif", ["-c:v", "gif"], None),
    "webp": ("webp", ["-c:v", "libwebp_anim", "-loop", "0"], None),  # animated
}
ANIMATED_IMAGES = ("gif", "webp")
VIDEO_INPUTS = tuple(f for f, (_, video, _a) in _RECIPES.items() if video is not None and f not in ANIMATED_IMAGES)
AUDIO_INPUTS = tuple(f for f, (_, video, _a) in _RECIPES.items() if video is None)


def ffmpeg(*args: str, timeout: float = 120) -> None:
    subprocess.run(
        [ffmpeg_binary(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y", *args],
        check=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


@functools.cache
def sample(
    fmt: str, seconds: float = 1.0, width: int = 64, height: int = 48, fps: int = 10, rate: int = 22050
) -> bytes:
    """A real file of `fmt`: a test pattern and/or a sine tone, `seconds` long."""
    muxer, video, audio = _RECIPES[fmt]
    inputs: list[str] = []
    if video is not None:
        inputs += ["-f", "lavfi", "-i", f"testsrc=size={width}x{height}:rate={fps}:duration={seconds}"]
    if audio is not None:
        inputs += ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate={rate}:duration={seconds}"]
    with tempfile.TemporaryDirectory() as work:
        out = Path(work) / f"sample.{fmt}"
        ffmpeg(*inputs, *(video or []), *(audio or []), "-t", str(seconds), "-f", muxer, str(out))
        return out.read_bytes()


# ------------------------------------------------------------------ hostile media

PASSWD_MARKER = b"root:"  # what /etc/passwd's text would show if it ever leaked into an output


def hls_playlist(port: int) -> bytes:
    return (
        "#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-TARGETDURATION:10\n"
        f"#EXTINF:10.0,\nfile:///etc/passwd\n#EXTINF:10.0,\nhttp://127.0.0.1:{port}/segment.ts\n#EXT-X-ENDLIST\n"
    ).encode()


def concat_list() -> bytes:
    return b"ffconcat version 1.0\nfile '/etc/passwd'\nfile 'http://127.0.0.1:9/x.ts'\n"


def _chunk(fourcc: bytes, payload: bytes) -> bytes:
    return fourcc + struct.pack("<I", len(payload)) + payload + (b"\x00" if len(payload) % 2 else b"")


def _list(kind: bytes, *chunks: bytes) -> bytes:
    return _chunk(b"LIST", kind + b"".join(chunks))


def avi(
    stream_type: bytes, handler: bytes, strf: bytes, packets: list[bytes], width: int = 0, height: int = 0
) -> bytes:
    """A minimal AVI with one stream (strh type `stream_type`) and `packets` in its movi list."""
    avih = struct.pack("<IIIIIIIIII", 100000, 0, 0, 0x10, len(packets), 0, 1, 0, width, height) + b"\x00" * 16
    strh = (
        stream_type + handler + struct.pack("<IHHIIIIIIIIhhhh", 0, 0, 0, 0, 1, 10, 0, len(packets), 0, 0, 0, 0, 0, 0, 0)
    )
    tag = b"00tx" if stream_type == b"txts" else b"00dc"
    movi = _list(b"movi", *(_chunk(tag, p) for p in packets))
    hdrl = _list(b"hdrl", _chunk(b"avih", avih), _list(b"strl", _chunk(b"strh", strh), _chunk(b"strf", strf)))
    body = b"AVI " + hdrl + movi
    return b"RIFF" + struct.pack("<I", len(body)) + body


def avi_wrapped_playlist(port: int) -> bytes:
    """An AVI whose subtitle stream carries a GAB2 chunk holding an HLS playlist (the known FFmpeg
    local-file/SSRF attack): a demuxer that followed it would read /etc/passwd and call the listener."""
    name = "x".encode("utf-16-le") + b"\x00\x00"
    playlist = hls_playlist(port)
    gab2 = b"GAB2\x00\x02\x00" + struct.pack("<I", len(name)) + name + b"\x04\x00" + struct.pack("<I", len(playlist))
    return avi(b"txts", b"\x00\x00\x00\x00", b"", [gab2 + playlist])


def avi_claiming_huge_frame(width: int = 30000, height: int = 30000) -> bytes:
    """A tiny AVI whose video header claims a `width` x `height` frame."""
    bitmap = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, 0, 0, 0, 0, 0)  # BITMAPINFOHEADER, raw RGB
    return avi(b"vids", b"\x00\x00\x00\x00", bitmap, [b"\x00" * 64], width, height)


def gif_claiming_huge_frame(width: int = 30000, height: int = 30000) -> bytes:
    """A GIF whose logical screen is `width` x `height` with a 1x1 image in it."""
    header = b"GIF89a" + struct.pack("<HHBBB", width, height, 0x80, 0, 0) + b"\x00\x00\x00\xff\xff\xff"
    image = b"\x2c" + struct.pack("<HHHHB", 0, 0, width, height, 0) + b"\x02\x02\x44\x01\x00"
    return header + image + b"\x3b"


def wav_claiming(seconds: float, rate: int = 8000) -> bytes:
    """A WAV whose header claims `seconds` of 16-bit mono audio, holding a tenth of a second."""
    fmt = struct.pack("<HHIIHH", 1, 1, rate, rate * 2, 2, 16)
    claimed = int(seconds * rate * 2)
    data = b"\x00\x01" * (rate // 10)
    body = b"WAVE" + _chunk(b"fmt ", fmt) + b"data" + struct.pack("<I", claimed) + data
    return b"RIFF" + struct.pack("<I", min(claimed + 36, 0xFFFFFFFF)) + body


def truncated_mp4() -> bytes:
    """A real MP4 cut in half: its index (moov, written last) is gone."""
    data = sample("mp4", 2.0)
    return data[: len(data) // 2]


def truncated_faststart_mp4(seconds: float = 6.0, kept: float = 0.5) -> bytes:
    """A real MP4 whose index (moov) is at the front (+faststart), cut short: the index still declares every
    sample, `kept` of the media data arrived. FFmpeg decodes what is there and stops early."""
    muxer, video, audio = _RECIPES["mp4"]
    with tempfile.TemporaryDirectory() as work:
        out = Path(work) / "fast.mp4"
        ffmpeg(
            "-f", "lavfi", "-i", f"testsrc=size=64x48:rate=10:duration={seconds}",
            "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=22050:duration={seconds}",
            *(video or []), *(audio or []), "-movflags", "+faststart", "-t", str(seconds), "-f", muxer, str(out),
        )  # fmt: skip
        data = out.read_bytes()
    return data[: int(len(data) * kept)]


def zero_length_wav() -> bytes:
    """A WAV whose data chunk is empty: a stream that decodes to nothing."""
    return wav_claiming(0.0)[:44]


def zero_length_mkv() -> bytes:
    """A Matroska file with a video track and no frames."""
    with tempfile.TemporaryDirectory() as work:
        out = Path(work) / "empty.mkv"
        ffmpeg(
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=64x48:rate=10",
            "-frames:v",
            "0",
            "-c:v",
            "libx264",
            "-f",
            "matroska",
            str(out),
        )
        return out.read_bytes()
