"""The loopback HTTP source FFmpeg reads stored inputs through (long media): ranges answered from the reader,
that one path (or its named objects) and nothing else, and nothing left listening afterwards."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
import requests

from filegate.files.http_source import HttpSource

DATA = bytes(range(256)) * 40  # 10,240 bytes


def reader(data: bytes, reads: list[tuple[int, int]]):  # type: ignore[no-untyped-def]
    def read(first: int, last: int) -> Iterator[bytes]:
        reads.append((first, last))
        for at in range(first, last + 1, 1000):
            yield data[at : min(at + 1000, last + 1)]

    return read


def test_ranges_are_answered_from_the_reader_alone() -> None:
    reads: list[tuple[int, int]] = []
    with HttpSource(len(DATA), reader(DATA, reads)) as url:
        assert urlsplit(url).hostname == "127.0.0.1"
        whole = requests.get(url, timeout=5)
        assert whole.status_code == 200 and whole.content == DATA and whole.headers["Accept-Ranges"] == "bytes"
        part = requests.get(url, headers={"Range": "bytes=100-1099"}, timeout=5)
        assert part.status_code == 206 and part.content == DATA[100:1100]
        assert part.headers["Content-Range"] == f"bytes 100-1099/{len(DATA)}"
        tail = requests.get(url, headers={"Range": "bytes=10000-"}, timeout=5)
        assert tail.status_code == 206 and tail.content == DATA[10000:]
        assert requests.get(url, headers={"Range": f"bytes={len(DATA)}-"}, timeout=5).status_code == 416
        assert requests.head(url, timeout=5).headers["Content-Length"] == str(len(DATA))
    assert reads == [(0, len(DATA) - 1), (100, 1099), (10000, len(DATA) - 1)]  # HEAD and 416 read nothing


def test_only_its_own_paths_are_served_and_it_stops_listening() -> None:
    with HttpSource.of({"v0000.mp4": (4, reader(b"abcd", [])), "audio.m4a": (2, reader(b"xy", []))}) as url:
        assert requests.get(f"{url}/v0000.mp4", timeout=5).content == b"abcd"
        assert requests.get(f"{url}/audio.m4a", timeout=5).content == b"xy"
        parts = urlsplit(url)
        for path in ("/", f"{parts.path}/other", f"{parts.path}/../v0000.mp4", "/etc/passwd", parts.path):
            assert requests.get(f"http://127.0.0.1:{parts.port}{path}", timeout=5).status_code == 404, path
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", parts.port or 0), timeout=1):
        pass
