"""Issue 17's "done when": a 12-minute video converts on the local stack through segments (the template's own
settings: cut above 240 s into 45 s segments), and the output is seamless by every invariant of
tests/helpers/long_media.py, checked on what the API hands back."""

from __future__ import annotations

from pathlib import Path

import requests

from tests.helpers import long_media as long
from tests.helpers.local_api import Client, new_account, upload, wait_for_conversion

SECONDS, FPS = 720.0, 25
SEGMENT_SECONDS = 45.0  # the template's MediaSegmentSeconds


def test_a_twelve_minute_video_converts_in_segments_seamlessly(stack, tmp_path: Path) -> None:
    pro = Client(stack.url, new_account(stack, tier="pro")["api_key"])
    source = long.make_clip(tmp_path / "talk.mp4", SECONDS, FPS, size="320x180")
    uploaded = upload(pro, source.read_bytes(), "talk.mp4")
    created = pro.post("/v1/conversions", json={"file_id": uploaded["id"], "target": "mp4"})
    assert created.status_code == 202, created.text
    seen: list[int] = []
    finished = wait_for_conversion(pro, created.json()["id"], timeout=600, on_poll=lambda j: seen.append(j["progress"]))
    assert finished["status"] == "succeeded" and finished["progress"] == 100, finished
    assert seen == sorted(seen), seen
    output = tmp_path / "out.mp4"
    location = pro.get(f"/v1/files/{finished['output_file_id']}/content", allow_redirects=False).headers["location"]
    output.write_bytes(requests.get(location, timeout=120).content)
    per = round(SEGMENT_SECONDS * FPS)
    joins = [k * per / FPS for k in range(1, int(SECONDS * FPS) // per + 1) if k * per < SECONDS * FPS]
    long.check_seamless(output, source, FPS, joins)
    assert pro.get("/v1/entitlements/me").json()["usage"]["conversions"] == 12  # one unit per started minute
