"""Audio and video formats (API.md "Media"): inputs, targets and which options apply to each pair.

Pure, no FFmpeg here: the convert and files functions use this table without carrying the FFmpeg layer.
``formats.FORMATS`` includes these entries, so `GET /v1/formats` serves images and media from one table.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

MediaKind = Literal["video", "audio"]
TargetKind = Literal["video", "gif", "audio", "thumbnail"]


@dataclass(frozen=True)
class MediaFormat:
    name: str
    content_type: str
    extensions: tuple[str, ...]
    demuxer: str  # the FFmpeg demuxer forced for this input (-f): never guessed from the bytes by FFmpeg
    kind: MediaKind  # what the container usually holds; the probe tells what a given file holds
    writable: bool = False


MEDIA_FORMATS: dict[str, MediaFormat] = {
    f.name: f
    for f in (
        MediaFormat("mp4", "video/mp4", ("mp4", "m4v"), "mov", "video", writable=True),
        MediaFormat("mov", "video/quicktime", ("mov", "qt"), "mov", "video"),
        MediaFormat("m4a", "audio/mp4", ("m4a",), "mov", "audio", writable=True),
        MediaFormat("webm", "video/webm", ("webm",), "matroska", "video", writable=True),
        MediaFormat("mkv", "video/x-matroska", ("mkv",), "matroska", "video"),
        MediaFormat("avi", "video/x-msvideo", ("avi",), "avi", "video"),
        MediaFormat("ts", "video/mp2t", ("ts", "m2ts", "mts"), "mpegts", "video"),
        MediaFormat("flv", "video/x-flv", ("flv",), "flv", "video"),
        MediaFormat("ogg", "audio/ogg", ("ogg", "oga", "ogv"), "ogg", "video"),
        MediaFormat("opus", "audio/ogg", ("opus",), "ogg", "audio", writable=True),
        MediaFormat("wav", "audio/wav", ("wav", "wave"), "wav", "audio", writable=True),
        MediaFormat("flac", "audio/flac", ("flac",), "flac", "audio", writable=True),
        MediaFormat("mp3", "audio/mpeg", ("mp3",), "mp3", "audio", writable=True),
        MediaFormat("aac", "audio/aac", ("aac", "adts"), "aac", "audio"),
    )
}

# Image formats FFmpeg may read as a video source (animation): their FFmpeg demuxer.
ANIMATED_IMAGE_DEMUXERS: dict[str, str] = {"gif": "gif", "webp": "webp_anim"}

VIDEO_TARGETS = ("mp4", "webm", "gif")
AUDIO_TARGETS = ("mp3", "m4a", "opus", "wav", "flac")
THUMBNAIL_TARGETS = ("jpg", "png", "webp")

_SIZE = ("width", "height", "fit")
_TRIM = ("start", "duration")
# Which options apply to each kind of target; anything else on that pair is 422 invalid_parameter.
TARGET_OPTIONS: dict[TargetKind, tuple[str, ...]] = {
    "video": (*_SIZE, "quality", *_TRIM, "fps", "audio_bitrate", "mute"),
    "gif": (*_SIZE, "quality", *_TRIM, "fps"),
    "audio": ("quality", *_TRIM, "audio_bitrate"),
    "thumbnail": (*_SIZE, "quality", "at"),
}
# Lossless or uncompressed audio has no quality or bitrate to choose.
LOSSLESS_AUDIO = ("wav", "flac")
MEDIA_OPTIONS = tuple(dict.fromkeys(o for options in TARGET_OPTIONS.values() for o in options))


def is_media(fmt: str | None) -> bool:
    return fmt in MEDIA_FORMATS


def is_media_conversion(source: str | None, target: str | None) -> bool:
    """Whether FFmpeg does this conversion: any media input, or an animated image made into a video."""
    if is_media(source):
        return True
    return source in ANIMATED_IMAGE_DEMUXERS and target in ("mp4", "webm")


def demuxer(source: str) -> str:
    if source in MEDIA_FORMATS:
        return MEDIA_FORMATS[source].demuxer
    return ANIMATED_IMAGE_DEMUXERS[source]


def media_targets(source: str) -> tuple[str, ...]:
    """Targets of a media input: audio ones always; video and thumbnails when the container holds video."""
    if MEDIA_FORMATS[source].kind == "audio":
        return AUDIO_TARGETS
    return (*VIDEO_TARGETS, *AUDIO_TARGETS, *THUMBNAIL_TARGETS)


def extra_image_targets(source: str) -> tuple[str, ...]:
    """Video targets an (animated) image input gains through FFmpeg."""
    return ("mp4", "webm") if source in ANIMATED_IMAGE_DEMUXERS else ()


def target_kind(target: str) -> TargetKind:
    if target == "gif":
        return "gif"
    if target in VIDEO_TARGETS:
        return "video"
    if target in AUDIO_TARGETS:
        return "audio"
    return "thumbnail"


def options_for_pair(target: str) -> tuple[str, ...]:
    options = TARGET_OPTIONS[target_kind(target)]
    if target in LOSSLESS_AUDIO:
        return tuple(o for o in options if o not in ("quality", "audio_bitrate"))
    if target == "png":
        return tuple(o for o in options if o != "quality")
    return options


def media_options(source: str) -> tuple[str, ...]:
    """Every option some target of `source` accepts (the `options` list of GET /v1/formats)."""
    targets = media_targets(source)
    return tuple(dict.fromkeys(o for t in targets for o in options_for_pair(t)))
