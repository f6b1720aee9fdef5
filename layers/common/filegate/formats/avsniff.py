"""Audio and video recognised from their bytes (magic numbers), and indirection formats refused outright.

Pure Python. ``sniff.sniff`` calls :func:`sniff_media` after the image checks (HEIF/AVIF brands first, so
an ISO-BMFF image never reads as a video) and :func:`refuse_indirection` before giving up.
"""

from __future__ import annotations

from filegate.errors import ConversionFailed

_QUICKTIME_BRANDS = {b"qt  "}
_AUDIO_MP4_BRANDS = {b"M4A ", b"M4B ", b"M4P "}
_MPEGTS_PACKET = 188
# Text formats that only point at other files or URLs (HLS/M3U playlists, FFmpeg concat lists, SDP
# session descriptions, SMIL/ASX/PLS playlists): FFmpeg would open whatever they name.
_INDIRECTION_PREFIXES = (b"#EXTM3U", b"ffconcat", b"[playlist]", b"<smil", b"<asx")
_INDIRECTION_MARKERS = (b"#EXT-X-", b"file '", b"file file:", b"file http", b"\nv=0", b"\no=")


def _ftyp_major(data: bytes) -> bytes | None:
    if len(data) < 12 or data[4:8] != b"ftyp":
        return None
    return data[8:12]


def _has_moov_or_mdat(data: bytes) -> bool:
    """An ISO-BMFF/QuickTime file that starts with another top-level box (old QuickTime files)."""
    return len(data) >= 8 and data[4:8] in (b"moov", b"mdat", b"wide", b"free", b"skip")


def _isobmff(data: bytes) -> str | None:
    major = _ftyp_major(data)
    if major is None:
        return "mov" if _has_moov_or_mdat(data) else None
    if major in _QUICKTIME_BRANDS:
        return "mov"
    if major in _AUDIO_MP4_BRANDS:
        return "m4a"
    return "mp4"


def _matroska(data: bytes) -> str | None:
    if not data.startswith(b"\x1a\x45\xdf\xa3"):
        return None
    # The EBML header's DocType element (0x4282) says which: "webm" or "matroska".
    return "webm" if b"\x42\x82\x84webm" in data[:64] else "mkv"


def _is_mpegts(data: bytes) -> bool:
    packets = min(len(data) // _MPEGTS_PACKET, 4)
    return packets >= 2 and all(data[i * _MPEGTS_PACKET] == 0x47 for i in range(packets))


def _skip_id3(data: bytes) -> tuple[bytes, bool]:
    """The bytes after an ID3v2 tag, and whether there was one."""
    if len(data) < 10 or not data.startswith(b"ID3"):
        return data, False
    size = 0
    for byte in data[6:10]:  # syncsafe: 7 bits per byte
        size = (size << 7) | (byte & 0x7F)
    footer = 10 if data[5] & 0x10 else 0
    return data[10 + size + footer :], True


def _mpeg_audio(data: bytes) -> str | None:
    """MP3 (MPEG audio layer III) or ADTS AAC from the first frame header."""
    body, tagged = _skip_id3(data)
    if len(body) < 4:
        return "mp3" if tagged else None  # a tag larger than what we were given: ID3 means MP3
    if body[0] != 0xFF or body[1] & 0xE0 != 0xE0:
        return None
    layer = (body[1] >> 1) & 0b11
    if layer == 0b00 and body[1] & 0xF0 == 0xF0:
        return "aac"  # ADTS: 12-bit sync, layer always 0
    if layer == 0b01 and (body[2] >> 4) not in (0, 0xF) and (body[2] >> 2) & 0b11 != 0b11:
        return "mp3"  # layer III, a real bitrate index and sample rate
    return None


def _ogg(data: bytes) -> str | None:
    if not data.startswith(b"OggS"):
        return None
    return "opus" if b"OpusHead" in data[:128] else "ogg"


def _riff(data: bytes) -> str | None:
    if len(data) < 12 or data[:4] not in (b"RIFF", b"RF64"):
        return None
    form = data[8:12]
    if form == b"WAVE":
        return "wav"
    if form == b"AVI ":
        return "avi"
    return None


def sniff_media(data: bytes) -> str | None:
    """The media format name (see table.FORMATS) of `data`, or None when it is not media."""
    for check in (_isobmff, _matroska, _riff, _ogg):
        found = check(data)
        if found:
            return found
    if data.startswith(b"FLV\x01"):
        return "flv"
    if data.startswith(b"fLaC"):
        return "flac"
    if _is_mpegts(data):
        return "ts"
    return _mpeg_audio(data)


def refuse_indirection(data: bytes) -> None:
    """ConversionFailed for playlists, concat lists and session descriptions: they only name other files
    or URLs, and reading them is how FFmpeg is made to leak local files or make requests."""
    head = data[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
    lowered = head.lower()
    if any(lowered.startswith(p.lower()) for p in _INDIRECTION_PREFIXES) or (
        head.startswith(b"v=0") and b"\nm=" in head
    ):
        raise ConversionFailed("Playlists, concat lists and other files that point at other files are refused.")
    if _looks_textual(head) and any(m in head for m in _INDIRECTION_MARKERS):
        raise ConversionFailed("Playlists, concat lists and other files that point at other files are refused.")


def _looks_textual(head: bytes) -> bool:
    return bool(head) and all(b in b"\t\r\n" or 0x20 <= b < 0x7F for b in head[:512])


# A WAV data size of 0 or 0xFFFFFFFF means "unknown" (written while streaming), not a claim.
_WAV_UNKNOWN_SIZES = (0, 0xFFFFFFFF)


def wav_declared_seconds(head: bytes) -> float | None:
    """Seconds of audio a WAV header's data chunk claims, or None when it makes no claim we can read."""
    if _riff(head) != "wav":
        return None
    offset, byte_rate = 12, 0
    while offset + 8 <= len(head):
        chunk, size = head[offset : offset + 4], int.from_bytes(head[offset + 4 : offset + 8], "little")
        if chunk == b"fmt " and offset + 20 <= len(head):
            byte_rate = int.from_bytes(head[offset + 16 : offset + 20], "little")
        if chunk == b"data":
            return size / byte_rate if byte_rate and size not in _WAV_UNKNOWN_SIZES else None
        offset += 8 + size + (size & 1)
    return None
