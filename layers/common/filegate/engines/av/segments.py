"""Long video in segments (docs/api.md "Media" → "Long media"; docs/architecture.md "Long media fans out").

One Lambda runs 15 minutes at most, so a video output longer than a few minutes (a setting) is cut on its
output frame grid into segments of about the same length (half as long above 1080p), each converted by its
own invocation; its AAC audio is cut into pieces on the AAC frame grid, each converted by its own invocation
too; and the pieces are joined without re-encoding.

Why it is seamless:
- every segment is video only, decoded from its own seek point (seek to the keyframe before, decode, drop
  the frames before its first; FFmpeg's accurate seek), put on the output frame grid from 0
  (``setpts=PTS-STARTPTS,fps=<rate>``) and cut by frame count, so segment k holds exactly output frames
  [k*n, (k+1)*n) and the concat demuxer lays them end to end with no hole or overlap;
- the encoder starts each segment with a keyframe (a closed GOP: x264's default, and VP9 has no open GOP)
  and runs with the same arguments and rate control in every segment (CRF under one VBV cap);
- AAC audio (mp4) is cut on its frame grid (1,024 samples) into pieces of AUDIO_PIECE_SEGMENTS segments'
  length. Piece k encodes from AAC_WARMUP_FRAMES frames before its first sample to AAC_TAIL_FRAMES after its
  last (the real audio around it, so the encoder's state and the decoder's overlap at the join are those of a
  one-piece run), as ADTS; then exactly its own frames are kept by counting ADTS headers (adts.py): the
  first piece keeps the encoder's priming frame, as a one-piece run does. Laid
  end to end (FFmpeg's concat protocol) the frames are one AAC stream with no gap, overlap or drift: every
  piece's place is computed from the plan, never accumulated; the priming frame is put before 0 (an edit
  list, as a one-piece run's). The first piece reads its input as a one-piece run does (from the start unless
  the output starts later); the others seek, and FFmpeg's accurate seek lands on the sample for MP4/MOV and
  MPEG-TS inputs (tests/unit/engines/av/test_audio_pieces.py compares the join with a one-piece run).
- Opus audio (webm) stays whole, converted by one invocation: Opus decoders need 80 ms of pre-roll after a
  discontinuity and Ogg/WebM carry its priming as container timestamps, not as frames to count; and an
  audio-only output is never cut (it is one piece anyway, and fast).

``cut`` is pure (the engine's plan uses it); ``encode_piece`` and ``join`` run FFmpeg in the sandbox; ``join``
streams its output to where it is stored (an output longer than hours may be larger than the worker's disk).
GIF output is never segmented (one palette per clip).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from filegate import errors
from filegate.engines.av import adts, ffmpeg, mp4_index
from filegate.engines.av import probe as media_probe
from filegate.engines.interface import Segmenting, StreamedOutput
from filegate.formats.table import demuxer

AUDIO = "audio"  # the whole audio track as one piece (Opus); AAC pieces are a0000, a0001, …; video v0000, …
# An AAC audio piece covers this many video segments' length: audio encodes ~30x faster than the video, so a
# piece stays far shorter than a segment's work while a 6-hour output needs only tens of them.
AUDIO_PIECE_SEGMENTS = 4
AAC_RATES = frozenset({96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350})
AAC_WARMUP_FRAMES = 8  # encoded before a piece's first kept frame, then dropped (about 0.17 s at 48 kHz)
AAC_TAIL_FRAMES = 8  # encoded after its last kept frame, then dropped
# The join's trailer bound (trailer_bytes): packets a second of AAC (48 kHz / 1,024) or Opus (20 ms) makes at
# most, and twice what mp4's index takes per packet, over a floor.
AUDIO_PACKETS_PER_SECOND = 50
TRAILER_BYTES_PER_PACKET = 64
TRAILER_BASE_BYTES = 4 * 1024 * 1024
LARGE_FRAME_PIXELS = 1920 * 1080  # above this output frame, segments are half as long (4K encodes slowly)
# Frame rates stated as decimals by the probe, as the exact rationals cameras use.
_NTSC = {round(n * 1000 / 1001, 3): f"{n * 1000}/1001" for n in (24, 30, 48, 60, 120)}
# Each piece's container, per target: (extension, muxer, demuxer to read it back).
_VIDEO_PIECE = {"mp4": ("mp4", "mp4", "mov"), "webm": ("webm", "webm", "matroska")}
_AUDIO_PIECE = {"mp4": ("m4a", "ipod", "mov"), "webm": ("webm", "webm", "matroska")}


@dataclass(frozen=True)
class Piece:
    name: str  # v0000… or "audio": also its object's name
    seek: float  # where it starts in the input, in seconds
    frames: int | None  # output frames of a video segment (at most: the input may end first); None: audio
    seconds: float  # output seconds it covers


@dataclass(frozen=True)
class SegmentPlan:
    """What a long conversion is cut into, and the arguments every piece runs with (kept in the manifest)."""

    source: str
    target: str
    rate: str  # the output frame rate as FFmpeg reads it ("25", "24000/1001")
    frame: tuple[int, int]
    output_seconds: float
    units: int
    pieces: list[Piece]
    video_args: list[str]  # threads, filters and encoder of every video segment
    audio_args: list[str]  # threads and encoder of the audio pieces ([] when the output has no audio)
    audio_rate: int = 0  # the AAC pieces' sample rate (0: the audio is one piece, AUDIO)
    audio_piece_frames: int = 0  # AAC frames each AAC piece keeps (the last: what remains)

    @property
    def video_pieces(self) -> list[Piece]:
        return [p for p in self.pieces if p.name.startswith("v")]

    @property
    def audio_pieces(self) -> list[Piece]:
        return [p for p in self.pieces if not p.name.startswith("v")]

    @property
    def has_audio(self) -> bool:
        return bool(self.audio_pieces)

    def piece(self, name: str) -> Piece:
        for piece in self.pieces:
            if piece.name == name:
                return piece
        raise KeyError(name)

    def file_name(self, name: str) -> str:
        if name.startswith("v"):
            return f"{name}.{_VIDEO_PIECE[self.target][0]}"
        return f"{name}.{_AUDIO_PIECE[self.target][0]}" if name == AUDIO else f"{name}.aac"  # ADTS

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SegmentPlan:
        fields = dict(data)
        fields["frame"] = tuple(fields["frame"])
        fields["pieces"] = [Piece(**p) for p in fields["pieces"]]
        return cls(**fields)


def frame_rate(fps: float) -> str:
    """A probed frame rate as FFmpeg's exact rational (29.97 → 30000/1001)."""
    if round(fps, 3) in _NTSC:
        return _NTSC[round(fps, 3)]
    return str(Fraction(fps).limit_denominator(1001))


def segment_seconds(frame: tuple[int, int], segmenting: Segmenting) -> float:
    return segmenting.segment_seconds / (2 if frame[0] * frame[1] > LARGE_FRAME_PIXELS else 1)


def cut(
    fps: float,
    frame: tuple[int, int],
    output_seconds: float,
    start: float,
    segmenting: Segmenting,
) -> tuple[str, list[Piece]]:
    """The output frame rate (exact) and the video segments of an output of `output_seconds` from `start`."""
    rate = frame_rate(fps)
    exact = float(Fraction(rate))
    per = max(1, round(segment_seconds(frame, segmenting) * exact))
    # The frames a one-piece run keeps: those that start before the end of the output.
    total = max(1, math.ceil(output_seconds * exact - 1e-6))
    count = math.ceil(total / per)
    sizes = [min(per, total - k * per) for k in range(count)]  # the last may fall short, as the input may
    return rate, [Piece(f"v{k:04d}", start + k * per / exact, n, n / exact) for k, n in enumerate(sizes)]


def cut_audio(
    target: str, start: float, output_seconds: float, rate: int | None, piece_seconds: float
) -> tuple[int, list[Piece]]:
    """The audio pieces of an output of `output_seconds` from `start`: AAC (mp4) at a rate the AAC encoder takes
    is cut on its frame grid into pieces of about `piece_seconds` (the AAC frames each keeps, and the pieces);
    otherwise (0, the whole track as one piece)."""
    whole = (0, [Piece(AUDIO, start, None, output_seconds)])
    if target != "mp4" or rate not in AAC_RATES:
        return whole
    assert rate is not None
    per = max(1, round(piece_seconds * rate / adts.SAMPLES_PER_FRAME))
    seconds = per * adts.SAMPLES_PER_FRAME / rate
    count = math.ceil(output_seconds / seconds - 1e-9)
    if count <= 1:
        return whole
    return per, [
        Piece(f"a{k:04d}", start + k * seconds, None, min(seconds, output_seconds - k * seconds)) for k in range(count)
    ]


def encode_piece(
    plan: SegmentPlan, name: str, url: str, *, workdir: Path, sandbox: ffmpeg.Sandbox, binary: str = ""
) -> Path:
    """Convert one piece from the input served at `url` (http_source: only its part is read); its file."""
    piece = plan.piece(name)
    output = workdir / plan.file_name(name)
    common = ["-sn", "-dn", "-map_metadata", "-1", "-map_chapters", "-1"]
    if name != AUDIO and not name.startswith("v"):
        return _encode_aac_piece(plan, name, url, workdir=workdir, sandbox=sandbox, binary=binary)
    if name == AUDIO:
        muxer = _AUDIO_PIECE[plan.target][1]
        source = ffmpeg.url_input_args(url, demuxer(plan.source), seek=piece.seek or None)
        args = [*source, *common, "-map", "0:a:0", "-vn", *plan.audio_args, "-t", f"{piece.seconds:.6f}"]
    else:
        muxer = _VIDEO_PIECE[plan.target][1]
        # Half a frame early: the frame that starts at `seek` is kept whatever the rounding of either.
        early = max(0.0, piece.seek - 0.5 / float(Fraction(plan.rate)))
        # Seeking before the input, whatever the container (MPEG-TS too, by timestamp search): reading a long
        # input from its start to drop what precedes a late segment would take longer than the segment.
        source = ffmpeg.url_input_args(url, demuxer(plan.source), seek=early or None)
        length = ["-frames:v", str(piece.frames)]
        args = [*source, *common, "-map", "0:v:0", "-an", *plan.video_args, *length]
    result = ffmpeg.run([*args, "-f", muxer, "-y", f"file:{output}"], sandbox, workdir=workdir, binary=binary)
    if not result.ok:
        raise ffmpeg.failure(result, f"conversion of {name}")
    if not output.exists() or output.stat().st_size == 0:
        raise errors.ConversionFailed(f"The conversion of {name} decoded to nothing.")
    return output


def _encode_aac_piece(
    plan: SegmentPlan, name: str, url: str, *, workdir: Path, sandbox: ffmpeg.Sandbox, binary: str
) -> Path:
    """An AAC piece: encoded with the audio around it as ADTS, then cut to its own frames (module doc)."""
    pieces = plan.audio_pieces
    index = [p.name for p in pieces].index(name)
    piece, last = pieces[index], index == len(pieces) - 1
    frame_seconds = adts.SAMPLES_PER_FRAME / plan.audio_rate
    warmup = 0 if index == 0 else AAC_WARMUP_FRAMES
    seconds = piece.seconds + (warmup + (0 if last else AAC_TAIL_FRAMES)) * frame_seconds
    encoded, output = workdir / f"{name}.encoded.aac", workdir / plan.file_name(name)
    # Not "-ss 0" for an output from the start: FFmpeg then drops the input's first frame of audio again.
    seek = piece.seek - warmup * frame_seconds
    source = ffmpeg.url_input_args(url, demuxer(plan.source), seek=seek or None)
    args = [
        *source, "-sn", "-dn", "-map_metadata", "-1", "-map", "0:a:0", "-vn", *plan.audio_args,
        "-ar", str(plan.audio_rate), "-t", f"{seconds:.6f}", "-f", "adts", "-y", f"file:{encoded}",
    ]  # fmt: skip
    result = ffmpeg.run(args, sandbox, workdir=workdir, binary=binary)
    if not result.ok:
        raise ffmpeg.failure(result, f"conversion of {name}")
    frames = adts.frames(encoded.read_bytes())
    encoded.unlink()
    # Frame i of an encode decodes to samples [(i - 1) * 1024, i * 1024) of its input: frame 0 is the priming.
    # The last piece keeps what covers its samples, not the encoder's final padding (no container here would
    # trim it): the output's audio then ends less than one frame after its video, as a one-piece run's does.
    first = 0 if index == 0 else warmup + 1
    own = plan.audio_piece_frames
    if last:
        own = math.ceil(round(piece.seconds * plan.audio_rate) / adts.SAMPLES_PER_FRAME)
    kept = frames[first : warmup + 1 + own]
    if not kept:
        raise errors.ConversionFailed(f"The conversion of {name} decoded to nothing.")
    output.write_bytes(b"".join(kept))
    return output


def join(
    plan: SegmentPlan,
    pieces_url: str,
    folder: Path,
    output: StreamedOutput,
    *,
    sandbox: ffmpeg.Sandbox,
    binary: str = "",
) -> tuple[int, dict[str, Any]]:
    """The output's size and metadata, from the pieces served at ``<pieces_url>/<file_name>`` (http_source: read
    from S3 in ranges, never copied to disk): the video segments concatenated as they are (concat demuxer,
    stream copy) and the audio muxed beside them, nothing re-encoded, written to `output`, which sends it on
    as it grows (so the disk never holds more than a few parts of it); an mp4's index is then moved to the
    front (mp4_index), as FFmpeg's ``+faststart`` would, without re-reading what was sent."""
    listing = folder / "segments.ffconcat"
    lines = ["ffconcat version 1.0", *(f"file '{pieces_url}/{plan.file_name(p.name)}'" for p in plan.video_pieces)]
    listing.write_text("\n".join(lines) + "\n", encoding="utf-8")
    piece_demuxer = _VIDEO_PIECE[plan.target][2]
    # Our own list of our own pieces' URLs (hence -safe 0): the concat demuxer and the pieces' demuxer only.
    args = [
        "-f", "concat", "-format_whitelist", f"concat,{piece_demuxer}", "-protocol_whitelist", "file,http,tcp",
        "-safe", "0", "-i", f"file:{listing}",
    ]  # fmt: skip
    maps = ["-map", "0:v:0"]
    if plan.audio_piece_frames:
        # The AAC pieces' frames end to end: one ADTS stream (concat protocol: bytes, no timestamps to adjust).
        pieces = "|".join(f"{pieces_url}/{plan.file_name(p.name)}" for p in plan.audio_pieces)
        priming = -adts.SAMPLES_PER_FRAME / plan.audio_rate  # the first frame before 0: an edit list skips it
        args += ["-f", "aac", "-format_whitelist", "aac", "-protocol_whitelist", "concat,http,tcp"]
        args += ["-itsoffset", f"{priming:.9f}", "-i", f"concat:{pieces}"]
        maps += ["-map", "1:a:0"]
    elif plan.has_audio:
        args += ffmpeg.url_input_args(f"{pieces_url}/{plan.file_name(AUDIO)}", _AUDIO_PIECE[plan.target][2])
        maps += ["-map", "1:a:0"]
    args += [*maps, "-c", "copy", "-map_metadata", "-1", "-map_chapters", "-1", "-f", _VIDEO_PIECE[plan.target][1]]
    # The same pieces join to the same bytes (a join run again; Matroska's segment UID is random otherwise).
    args += ["-fflags", "+bitexact"]
    keep = trailer_bytes(plan)
    result = ffmpeg.run(
        [*args, "-y", f"file:{output.path}"],
        sandbox,
        workdir=folder,
        binary=binary,
        while_running=lambda paused: output.pump(keep, paused),
    )
    if not result.ok:
        raise ffmpeg.failure(result, "join")
    layout = mp4_index.faststart(output.read, output.size()) if plan.target == "mp4" else ()
    size = output.finish(*layout)
    described = media_probe.described_output(result.stderr, plan.target, size)
    if described is None:
        raise errors.ConversionFailed("The joined media holds no frame.")
    return size, described.to_json()


def trailer_bytes(plan: SegmentPlan) -> int:
    """More than the muxer writes last, in one go, after the media (mp4's index: about 30 bytes a video frame
    and 20 an audio packet; Matroska's cues: far less): what is kept back from sending while the join runs."""
    frames = sum(piece.frames or 0 for piece in plan.video_pieces)
    packets = math.ceil(plan.output_seconds * AUDIO_PACKETS_PER_SECOND) if plan.has_audio else 0
    return TRAILER_BASE_BYTES + TRAILER_BYTES_PER_PACKET * (frames + packets)
