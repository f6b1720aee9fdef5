"""The media planner (docs/api.md "Media"): pure. A probed input + typed options + the tier's media limits →
FFmpeg arguments, output frame, conversion units; or the API's errors, raised before any work: 413 for an
input over the tier's duration or frame limit, 422 invalid_parameter for an option out of range for this
input, 422 conversion_failed for media that cannot be what it claims. Long video is planned in segments
(``plan_segments``). The engine adapter that runs a plan is filegate.engines.av.engine.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from filegate import errors
from filegate.engines.av import probe as media_probe
from filegate.engines.av import segments
from filegate.engines.interface import Segmenting
from filegate.formats.options import MediaOptions, within_source
from filegate.formats.table import check_options_apply, media_output_kind
from filegate.tiers import MediaLimits

SECONDS_PER_UNIT = 60  # docs/api.md §3: one unit per started minute of output
DEFAULT_THUMBNAIL_AT = 0.10  # a thumbnail is taken 10 % in unless `at` says otherwise
DEFAULT_GIF_FPS = 12.0
SEGMENT_GRID_FPS = 25.0  # the frame grid of long video whose stream states no frame rate
# VBV cap of CRF video: bits per pixel per frame (about 12 Mb/s for 1080p at 30 fps), and a floor for tiny frames.
VBV_BITS_PER_PIXEL = 0.2
VBV_MIN_KBPS = 500
VBV_DEFAULT_FPS = 30.0
# A conversion that is not cut into segments (GIF: one palette per clip) runs in one invocation of the media
# worker (15 minutes at most): its output is held to this length.
ONE_PIECE_MAX_SECONDS = 30 * 60
MAX_THREADS = 2  # per FFmpeg child: Lambda's vCPUs at the worker's memory size, and a bounded footprint

THUMBNAIL_CODECS = {
    "jpg": ["-c:v", "mjpeg", "-pix_fmt", "yuvj420p"],
    "png": ["-c:v", "png"],
    "webp": ["-c:v", "libwebp"],
}


@dataclass(frozen=True)
class Plan:
    source: str
    target: str
    seek: float | None  # input seek (trim start, thumbnail position)
    output_seconds: float  # 0 for a thumbnail
    frame: tuple[int, int] | None  # output frame, None for audio
    args: list[str]  # output options (after the input)

    @property
    def units(self) -> int:
        """Conversion units (docs/api.md §3): one per started minute of output; a thumbnail is one."""
        return max(1, math.ceil(round(self.output_seconds, 3) / SECONDS_PER_UNIT))


def _map(value: int, low: float, high: float) -> float:
    """quality 1..100 onto [low, high] (low at quality 1)."""
    return low + (high - low) * (value - 1) / 99


def _even(value: float) -> int:
    return max(2, round(value / 2) * 2)


def output_frame(width: int, height: int, options: MediaOptions, limits: MediaLimits, *, even: bool) -> tuple[int, int]:
    """The output frame for an input frame; 413 when the input is over the tier's frame and nothing asked
    for less, 422 invalid_parameter when what was asked is over it."""
    asked_w, asked_h = options.width, options.height
    if asked_w and asked_h:
        if options.cover:
            out_w, out_h = float(asked_w), float(asked_h)
        else:
            scale = min(asked_w / width, asked_h / height)
            out_w, out_h = width * scale, height * scale
    elif asked_w:
        out_w, out_h = float(asked_w), height * asked_w / width
    elif asked_h:
        out_w, out_h = width * asked_h / height, float(asked_h)
    else:
        out_w, out_h = float(width), float(height)
    out_w, out_h = within_source((out_w, out_h), (width, height), options.enlarge)
    frame = (_even(out_w), _even(out_h)) if even else (max(1, round(out_w)), max(1, round(out_h)))
    if not limits.frame_fits(*frame):
        if asked_w or asked_h:
            raise errors.InvalidParameter(
                f"width/height: the output frame {frame[0]}x{frame[1]} is larger than your plan's limit of "
                f"{limits.frame_text()}."
            )
        raise errors.FileTooLarge(
            f"The video's frame ({width}x{height}) is larger than your plan's limit of {limits.frame_text()}; "
            "ask for a smaller width or height."
        )
    return frame


def scale_filter(frame: tuple[int, int], options: MediaOptions) -> str:
    width, height = frame
    if options.cover and options.width and options.height:
        cover = f"scale={width}:{height}:force_original_aspect_ratio=increase:flags=bicubic"
        return f"{cover},crop={width}:{height},setsar=1"
    return f"scale={width}:{height}:flags=bicubic,setsar=1"


def audio_args(target: str, options: MediaOptions, channels: int | None) -> list[str]:
    downmix = ["-ac", "2"] if channels and channels > 2 else []
    bitrate = options.audio_bitrate
    if target == "mp3":
        quality = ["-q:a", str(round(_map(options.quality, 9, 0)))] if options.quality else ["-q:a", "2"]
        return ["-c:a", "libmp3lame", *(["-b:a", f"{bitrate}k"] if bitrate else quality), *downmix]
    if target in ("m4a", "mp4"):
        kbps = bitrate or (round(_map(options.quality, 64, 256)) if options.quality else 160)
        return ["-c:a", "aac", "-b:a", f"{kbps}k", *downmix]
    if target in ("opus", "webm"):
        kbps = bitrate or (round(_map(options.quality, 32, 256)) if options.quality else 96)
        return ["-c:a", "libopus", "-b:a", f"{kbps}k", *downmix]
    if target == "wav":
        return ["-c:a", "pcm_s16le", *downmix]
    return ["-c:a", "flac", *downmix]  # flac


def vbv_cap_kbps(frame: tuple[int, int], fps: float | None) -> int:
    """The peak bitrate a video may reach (CRF under a VBV cap): the same for a one-piece conversion and for
    every segment of a long one, so no segment start spends more than the rest (no bitrate spike at a join)."""
    return max(VBV_MIN_KBPS, round(frame[0] * frame[1] * (fps or VBV_DEFAULT_FPS) * VBV_BITS_PER_PIXEL / 1000))


def video_codec_args(target: str, options: MediaOptions, frame: tuple[int, int], fps: float | None) -> list[str]:
    """The video encoder and its rate control: CRF (quality) with a VBV cap (vbv_cap_kbps)."""
    quality = options.quality or 70
    cap = vbv_cap_kbps(frame, fps)
    vbv = ["-maxrate", f"{cap}k", "-bufsize", f"{2 * cap}k"]
    if target == "mp4":
        crf = round(_map(quality, 35, 17))
        return ["-c:v", "libx264", "-preset", "veryfast", "-crf", str(crf), *vbv, "-pix_fmt", "yuv420p"]
    crf = round(_map(quality, 50, 15))  # webm: VP9 in constrained-quality mode (CRF, at most the cap)
    return [
        "-c:v", "libvpx-vp9", "-crf", str(crf), "-b:v", f"{cap}k", *vbv, "-deadline", "realtime", "-cpu-used", "8",
        "-row-mt", "1", "-pix_fmt", "yuv420p",
    ]  # fmt: skip


def plan(info: media_probe.MediaInfo, target: str, options: MediaOptions, limits: MediaLimits) -> Plan:
    """What to run for this input, or the API error that refuses it before any work."""
    source = info.format
    check_options_apply(options.given(), source, target)
    if info.duration > limits.max_duration_seconds:
        raise errors.FileTooLarge(
            f"The media lasts {info.duration:.1f} s, over your plan's limit of {limits.max_duration_seconds} s "
            f"({limits.max_duration_seconds // 60} minutes)."
        )
    kind = media_output_kind(target)
    video, audio = info.video, info.audio
    if kind in ("video", "gif", "thumbnail") and video is None:
        raise errors.UnsupportedConversion(f"This {source} file has no video stream to make a {target} from.")
    if kind == "audio" and audio is None:
        raise errors.UnsupportedConversion(f"This {source} file has no audio stream to make a {target} from.")
    threads = ["-threads", str(MAX_THREADS)]
    if kind == "thumbnail":
        assert video is not None
        at = info.duration * DEFAULT_THUMBNAIL_AT if options.at is None else options.at
        if at >= info.duration:
            raise errors.InvalidParameter(f"at must be before the end of the media ({info.duration:.3f} s).")
        if video.fps:  # the frame shown at `at`: seeking between two frames would skip past the last one
            frame_seconds = 1 / video.fps
            at = max(0.0, min(math.floor(at / frame_seconds) * frame_seconds, info.duration - frame_seconds))
        frame = output_frame(video.width or 0, video.height or 0, options, limits, even=False)
        quality: list[str] = []
        if target == "jpg":
            quality = ["-q:v", str(round(_map(options.quality or 85, 31, 2)))]
        elif target == "webp":
            quality = ["-quality", str(options.quality or 80)]
        args = [
            *threads, "-map", "0:v:0", "-frames:v", "1", "-an", "-sn", "-dn", "-vf", scale_filter(frame, options),
            *THUMBNAIL_CODECS[target], *quality, "-f", "webp" if target == "webp" else "image2", "-update", "1",
        ]  # fmt: skip
        return Plan(source, target, at or None, 0.0, frame, args)

    start = options.start or 0.0
    if start >= info.duration:
        raise errors.InvalidParameter(f"start must be before the end of the media ({info.duration:.3f} s).")
    seconds = info.duration - start
    if options.duration is not None:
        seconds = min(seconds, options.duration)
    # -t always: a header that understates the length never buys more work than was planned and charged.
    timing = ["-t", f"{seconds:.3f}"]
    common = [*threads, "-sn", "-dn", "-map_metadata", "-1", "-map_chapters", "-1"]
    if kind == "audio":
        assert audio is not None
        codec = audio_args(target, options, audio.channels)
        extra = ["-movflags", "+faststart", "-f", "ipod"] if target == "m4a" else ["-f", _muxer(target)]
        args = [*common, "-map", "0:a:0", "-vn", *codec, *timing, *extra]
        return Plan(source, target, start or None, seconds, None, args)

    assert video is not None
    frame = output_frame(video.width or 0, video.height or 0, options, limits, even=kind == "video")
    filters = []
    fps = options.fps or (min(video.fps or DEFAULT_GIF_FPS, DEFAULT_GIF_FPS) if kind == "gif" else None)
    if fps:
        filters.append(f"fps={fps:g}")
    filters.append(scale_filter(frame, options))
    if kind == "gif":
        if seconds > ONE_PIECE_MAX_SECONDS:
            raise errors.FileTooLarge(
                f"A GIF is made in one piece (one palette per clip): at most {ONE_PIECE_MAX_SECONDS // 60} minutes; "
                "use start and duration to make a shorter one."
            )
        colors = round(_map(options.quality, 16, 256)) if options.quality else 256
        graph = (
            f"{','.join(filters)},split[a][b];[a]palettegen=max_colors={colors}:stats_mode=diff[p];"
            "[b][p]paletteuse=dither=bayer:bayer_scale=4:diff_mode=rectangle"
        )
        args = [*common, "-map", "0:v:0", "-an", "-vf", graph, *timing]
        return Plan(source, target, start or None, seconds, frame, [*args, "-loop", "0", "-f", "gif"])
    sound = ["-an"]
    maps = ["-map", "0:v:0"]
    if audio is not None and not options.mute:
        maps += ["-map", "0:a:0"]
        sound = audio_args(target, options, audio.channels)
    container = ["-movflags", "+faststart", "-f", "mp4"] if target == "mp4" else ["-f", "webm"]
    codec = video_codec_args(target, options, frame, fps or video.fps)
    args = [*common, *maps, "-vf", ",".join(filters), *codec, *sound, *timing]
    return Plan(source, target, start or None, seconds, frame, [*args, *container])


def plan_segments(
    info: media_probe.MediaInfo, target: str, options: MediaOptions, limits: MediaLimits, segmenting: Segmenting
) -> segments.SegmentPlan | None:
    """The segments of a video output longer than `segmenting.above_seconds` (docs/api.md "Long media"), else None
    (one piece). Refuses (413/422) exactly what a one-piece plan refuses, and costs the same units."""
    whole = plan(info, target, options, limits)
    video = info.video
    if media_output_kind(target) != "video" or video is None or whole.frame is None:
        return None
    if whole.output_seconds <= segmenting.above_seconds:
        return None
    # A stream that states no frame rate gets a grid all the same: in one piece it would outlast the worker.
    fps = options.fps or video.fps or SEGMENT_GRID_FPS
    start = options.start or 0.0
    rate, pieces = segments.cut(fps, whole.frame, whole.output_seconds, start, segmenting)
    threads = ["-threads", str(MAX_THREADS)]
    sound: list[str] = []
    audio_rate, audio_piece_frames = 0, 0
    if info.audio is not None and not options.mute:
        sound = [*threads, *audio_args(target, options, info.audio.channels)]
        piece_seconds = segments.AUDIO_PIECE_SEGMENTS * segments.segment_seconds(whole.frame, segmenting)
        audio_piece_frames, audio = segments.cut_audio(
            target, start, whole.output_seconds, info.audio.sample_rate, piece_seconds
        )
        audio_rate = (info.audio.sample_rate or 0) if audio_piece_frames else 0
        # First: a whole track (Opus) is the longest piece of a long video, so it is queued (and started) first.
        pieces[:0] = audio
    # On the output frame grid from the segment's first frame; the same encoder and cap as a one-piece run.
    filters = f"setpts=PTS-STARTPTS,fps={rate},{scale_filter(whole.frame, options)}"
    codec = video_codec_args(target, options, whole.frame, fps)
    return segments.SegmentPlan(
        info.format, target, rate, whole.frame, whole.output_seconds, whole.units, pieces,
        [*threads, "-vf", filters, *codec], sound, audio_rate, audio_piece_frames,
    )  # fmt: skip


def _muxer(target: str) -> str:
    return {"mp3": "mp3", "opus": "ogg", "wav": "wav", "flac": "flac"}[target]
