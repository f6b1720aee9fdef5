"""Probing media before any transcoding: duration, streams, codecs, dimensions, frame rate, sample rate,
channels, read from FFmpeg's own description of its input (``ffmpeg -i``), inside the same sandbox as a
conversion but with a short time limit. The binary ships without ffprobe; the input description is stable
text that FFmpeg has printed the same way for many years.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from filegate.engines.av import ffmpeg
from filegate.errors import ConversionFailed
from filegate.formats import avsniff

PROBE_SANDBOX = ffmpeg.Sandbox(wall_seconds=15, cpu_seconds=10, memory_bytes=1024 * 1024**2, max_output_bytes=1024**2)
# A frame larger than this is refused before decoding whatever a tier allows: no real camera makes it, and
# decoding it would take gigabytes (the "30000x30000 in a tiny file" attack).
MAX_INPUT_PIXELS = 8192 * 8192
MAX_INPUT_SIDE = 16384
DECLARED_LENGTH_SLACK = 2.0
HEAD_BYTES = 4096  # what the declared-length check reads
OPUS_RATE = 48_000  # how far a header's claimed length may exceed what the file holds

_DURATION = re.compile(r"Duration: (\d+):(\d{2}):(\d{2}(?:\.\d+)?)")
_BITRATE = re.compile(r"bitrate: (\d+) kb/s")
_STREAM = re.compile(r"^\s*Stream #0:(\d+)[^:]*: (Video|Audio): (\w+)(.*)$", re.MULTILINE)
_SIZE = re.compile(r"(?<![\w/])(\d{1,6})x(\d{1,6})(?=[\s,\[]|$)")
_FPS = re.compile(r", (\d+(?:\.\d+)?)(k?) fps")
_TBR = re.compile(r", (\d+(?:\.\d+)?)(k?) tbr")
_RATE = re.compile(r", (\d+) Hz")
_LAYOUT = re.compile(r", (\d+) Hz, ([^,(]+)")
_ROTATION = re.compile(r"rotation of (-?\d+(?:\.\d+)?) degrees")
_FRAMES = re.compile(r"frame=\s*(\d+)")
_TIME = re.compile(r"time=(\d+):(\d{2}):(\d{2}(?:\.\d+)?)")
_CHANNELS = {"mono": 1, "stereo": 2, "2.1": 3, "3.0": 3, "quad": 4, "4.0": 4, "5.0": 5, "5.1": 6, "6.1": 7, "7.1": 8}


@dataclass(frozen=True)
class StreamInfo:
    type: str  # video | audio
    codec: str
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    sample_rate: int | None = None
    channels: int | None = None

    def to_json(self) -> dict[str, Any]:
        if self.type == "video":
            return {"type": "video", "codec": self.codec, "width": self.width, "height": self.height, "fps": self.fps}
        return {"type": "audio", "codec": self.codec, "sample_rate": self.sample_rate, "channels": self.channels}


@dataclass(frozen=True)
class MediaInfo:
    format: str
    duration: float
    bit_rate: int | None  # bits per second
    streams: list[StreamInfo] = field(default_factory=list)

    @property
    def video(self) -> StreamInfo | None:
        return next((s for s in self.streams if s.type == "video"), None)

    @property
    def audio(self) -> StreamInfo | None:
        return next((s for s in self.streams if s.type == "audio"), None)

    @property
    def kind(self) -> str:
        return "video" if self.video is not None else "audio"

    @classmethod
    def from_json(cls, metadata: Mapping[str, Any]) -> MediaInfo | None:
        """The probe again from a file's `metadata` (what `to_json` stored); None when it is not media's."""
        if metadata.get("kind") not in ("video", "audio") or not isinstance(metadata.get("duration"), int | float):
            return None
        streams = [
            StreamInfo(**{k: v for k, v in s.items() if k in StreamInfo.__dataclass_fields__})
            for s in metadata.get("streams") or []
            if isinstance(s, Mapping) and s.get("type") in ("video", "audio")
        ]
        bit_rate = metadata.get("bit_rate")
        return cls(
            str(metadata.get("format")),
            float(metadata["duration"]),
            bit_rate if isinstance(bit_rate, int) else None,
            streams,
        )

    def to_json(self) -> dict[str, Any]:
        """The file's `metadata` (docs/api.md "Files")."""
        return {
            "kind": self.kind,
            "format": self.format,
            "duration": round(self.duration, 3),
            "bit_rate": self.bit_rate,
            "streams": [s.to_json() for s in self.streams],
        }


def _seconds(match: re.Match[str]) -> float:
    hours, minutes, seconds = match.groups()
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def _rate(match: re.Match[str] | None) -> float | None:
    if match is None:
        return None
    value = float(match.group(1)) * (1000 if match.group(2) else 1)
    return round(value, 3)


def _video(codec: str, rest: str, rotation: float) -> StreamInfo:
    size = _SIZE.search(rest)
    width, height = (int(size.group(1)), int(size.group(2))) if size else (None, None)
    if width and height and round(abs(rotation)) % 180 == 90:  # phones store portrait video turned
        width, height = height, width
    return StreamInfo("video", codec, width, height, _rate(_FPS.search(rest)) or _rate(_TBR.search(rest)))


def _audio(codec: str, rest: str) -> StreamInfo:
    rate = _RATE.search(rest)
    layout = _LAYOUT.search(rest)
    channels = None
    if layout:
        name = layout.group(2).strip()
        digits = re.match(r"(\d+) channels", name)
        channels = int(digits.group(1)) if digits else _CHANNELS.get(name.split("(")[0].strip())
    return StreamInfo("audio", codec, sample_rate=int(rate.group(1)) if rate else None, channels=channels)


def parse(text: str, fmt: str, *, section: str = "Input #0") -> MediaInfo | None:
    """The description of input #0 (or of `section`, e.g. "Output #0") in FFmpeg's stderr; None when FFmpeg
    did not print it (it could not open the input)."""
    start = text.find(section)
    if start < 0:
        return None
    text = text[start:]
    if section == "Input #0":  # the output's description and the stream mapping follow the input's
        end = min((i for i in (text.find("Stream mapping:"), text.find("Output #0")) if i > 0), default=len(text))
        text = text[:end]
    duration_match = _DURATION.search(text)
    bitrate_match = _BITRATE.search(text)
    streams: list[StreamInfo] = []
    matches = list(_STREAM.finditer(text))
    for index, match in enumerate(matches):
        kind, codec, rest = match.group(2), match.group(3), match.group(4)
        if "(attached pic)" in rest:  # cover art of a song is not a video
            continue
        following = text[match.end() : matches[index + 1].start() if index + 1 < len(matches) else len(text)]
        rotation = _ROTATION.search(following)
        if kind == "Video":
            streams.append(_video(codec, rest, float(rotation.group(1)) if rotation else 0.0))
        else:
            streams.append(_audio(codec, rest))
    return MediaInfo(
        format=fmt,
        duration=_seconds(duration_match) if duration_match else 0.0,
        bit_rate=int(bitrate_match.group(1)) * 1000 if bitrate_match else None,
        streams=streams,
    )


def probe(path: Path, fmt: str, demuxer: str, *, workdir: Path, binary: str = "") -> MediaInfo:
    """What `path` holds, or ConversionFailed (unreadable, no streams, no duration, absurd frame)."""
    with path.open("rb") as handle:
        head = handle.read(HEAD_BYTES)
    return _probe(ffmpeg.input_args(path, demuxer), fmt, head, workdir=workdir, binary=binary)


def probe_url(url: str, fmt: str, demuxer: str, head: bytes, *, workdir: Path, binary: str = "") -> MediaInfo:
    """`probe` of an input FFmpeg reads over loopback HTTP (ffmpeg.url_input_args): only the bytes the
    demuxer asks for (its header, an index at the end) travel, never the whole file. `head`: its first bytes."""
    return _probe(ffmpeg.url_input_args(url, demuxer), fmt, head, workdir=workdir, binary=binary)


def _probe(source: list[str], fmt: str, head: bytes, *, workdir: Path, binary: str) -> MediaInfo:
    result = ffmpeg.run(source, PROBE_SANDBOX, workdir=workdir, binary=binary)
    if result.killed_by() is not None:
        raise ffmpeg.failure(result, "probe")
    info = parse(result.stderr, fmt)
    if info is None or not info.streams:
        raise ConversionFailed("The media could not be read: it is corrupt, truncated or has no audio or video.")
    video = info.video
    if video is not None:
        if not video.width or not video.height:
            raise ConversionFailed("The video stream has no usable frame size (absent, or absurdly large).")
        if max(video.width, video.height) > MAX_INPUT_SIDE or video.width * video.height > MAX_INPUT_PIXELS:
            raise ConversionFailed(f"The video's frame ({video.width}x{video.height}) is absurdly large.")
    if info.duration <= 0:
        info = MediaInfo(info.format, _measured_duration(source, workdir, binary), info.bit_rate, info.streams)
    if info.duration <= 0:
        raise ConversionFailed("The media has no duration: its streams hold nothing to decode.")
    _check_declared_length(head, info)
    return info


def _check_declared_length(head: bytes, info: MediaInfo) -> None:
    """A header that claims far more than the file holds (a WAV "ten hours long" in a few bytes) is a lie
    meant to make us reserve, allocate or wait for what is not there: refused rather than trusted or fixed."""
    if info.format != "wav":
        return
    declared = avsniff.wav_declared_seconds(head)
    if declared is not None and declared > info.duration * DECLARED_LENGTH_SLACK + 1:
        raise ConversionFailed(
            f"The WAV header claims {declared:.0f} s of audio but the file holds {info.duration:.1f} s."
        )


def described_output(stderr: str, fmt: str, size: int) -> MediaInfo | None:
    """What a conversion wrote, from FFmpeg's own report of that run: the streams of its "Output #0" and the
    output time of its last progress line. No second FFmpeg process reads the output back (that cost a
    short song ~0.1 s of a ~1 s conversion). None when the run wrote no sample or frame."""
    info = parse(stderr, fmt, section="Output #0")
    times = [t for t in _TIME.finditer(stderr) if t.start() > stderr.find("Output #0")]
    if info is None or not info.streams or not times:
        return None
    seconds = _seconds(times[-1])
    frames = _FRAMES.findall(stderr)
    video = info.video
    if video is not None:
        if not frames or int(frames[-1]) == 0:
            return None
        if video.fps:  # the progress line's time is the last frame's start (or earlier, with reordering)
            seconds = max(seconds, int(frames[-1]) / video.fps)
    if seconds <= 0:
        return None
    # Opus is always decoded at 48 kHz (RFC 7845), whatever rate its encoder was fed: as a reader sees it.
    streams = [replace(s, sample_rate=OPUS_RATE) if s.codec == "opus" else s for s in info.streams]
    return MediaInfo(fmt, seconds, round(size * 8 / seconds), streams)


def _measured_duration(source: list[str], workdir: Path, binary: str) -> float:
    """Duration by reading the packets through (no decoding) when the container does not state it."""
    args = [*source, "-map", "0", "-c", "copy", "-f", "null", "-"]
    result = ffmpeg.run(args, PROBE_SANDBOX, workdir=workdir, binary=binary)
    if not result.ok:
        return 0.0
    times = list(_TIME.finditer(result.stderr))
    return _seconds(times[-1]) if times else 0.0
