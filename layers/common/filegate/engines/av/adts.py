"""ADTS, the framing of a raw AAC stream: each frame a 7-byte header (9 with a CRC) that states its own length,
then one AAC frame of 1,024 samples. A long output's audio pieces (segments.py) are written as ADTS by our own
encoder, so a piece is cut to whole AAC frames by counting headers: sample-exact, without a demuxer's view of
timestamps. The frames of several pieces laid end to end are again one valid ADTS stream.
"""

from __future__ import annotations

from filegate import errors

SAMPLES_PER_FRAME = 1024
_HEADER_BYTES = 7
_SYNC = 0xFFF


def frames(data: bytes) -> list[bytes]:
    """Every frame of `data`, in order; ConversionFailed when it is not a clean ADTS stream of one AAC frame per
    ADTS frame (what FFmpeg's AAC encoder writes)."""
    found: list[bytes] = []
    at = 0
    while at < len(data):
        header = data[at : at + _HEADER_BYTES]
        if len(header) < _HEADER_BYTES or (header[0] << 4 | header[1] >> 4) != _SYNC:
            raise errors.ConversionFailed("An audio piece is not a clean AAC stream.")
        length = (header[3] & 0x03) << 11 | header[4] << 3 | header[5] >> 5
        blocks = (header[6] & 0x03) + 1
        if length < _HEADER_BYTES or at + length > len(data) or blocks != 1:
            raise errors.ConversionFailed("An audio piece is not a clean AAC stream.")
        found.append(data[at : at + length])
        at += length
    return found
