"""docs/api.md "Media" through the local stack: sync convert waiting for the media worker (200/303/202),
jobs on the media queue with webhooks, units per started minute, hostile files refused uncharged, and
the `metadata` of completed files."""

from __future__ import annotations

import io
import json
import tempfile
import time
from pathlib import Path

import pypdfium2
import pytest
import requests
from PIL import Image

from filegate.engines.av import probe as media_probe
from filegate.tiers import SYNC_ANSWER_RESERVE_SECONDS
from tests.helpers import av_samples as av
from tests.helpers import media_samples as images
from tests.helpers.listener import Listener
from tests.helpers.local_api import Client, assert_error, conversions_used, new_account, upload, wait_for_conversion
from tests.helpers.local_stack import ROOT, start_local_stack
from tests.helpers.receiver import running_receiver

HOSTILE_BOUND_SECONDS = 20.0


@pytest.fixture
def pro(stack):
    return Client(stack.url, new_account(stack, tier="pro")["api_key"])


def _convert(client, data, target, filename="clip.bin", **fields):
    form = {"target": target, **{k: str(v) for k, v in fields.items()}}
    return client.post("/v1/convert", files={"file": (filename, data)}, data=form, timeout=60)


def _probe(data: bytes, fmt: str, demuxer: str) -> media_probe.MediaInfo:
    with tempfile.TemporaryDirectory() as work:
        path = Path(work) / "out"
        path.write_bytes(data)
        return media_probe.probe(path, fmt, demuxer, workdir=Path(work))


def test_formats_list_media(stack):
    formats = requests.get(stack.url + "/v1/formats", timeout=30).json()["formats"]
    assert {"webm", "gif", "mp3", "jpg"} <= set(formats["mp4"]["to"])
    assert {"start", "duration", "fps", "audio_bitrate", "mute", "at"} <= set(formats["mp4"]["options"])
    assert formats["wav"]["to"] == ["mp3", "m4a", "opus", "wav", "flac"]


@pytest.mark.parametrize(
    ("target", "content_type", "demuxer", "fields"),
    [
        ("webm", "video/webm", "matroska", {"width": 64}),
        ("gif", "image/gif", "gif", {"fps": 5}),
        ("mp3", "audio/mpeg", "mp3", {"audio_bitrate": 64}),
        ("jpg", "image/jpeg", None, {"at": 0.5}),
    ],
)
def test_sync_convert_mp4(pro, target, content_type, demuxer, fields):
    clip = av.sample("mp4", 2.0, 128, 96, 10)
    before = conversions_used(pro)
    response = _convert(pro, clip, target, filename="holiday.mp4", **fields)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].split(";")[0] == content_type
    assert response.headers["Content-Disposition"] == f'attachment; filename="holiday.{target}"'
    assert response.headers["X-Conversion-Id"].startswith("conv_")
    if demuxer is None:
        assert Image.open(io.BytesIO(response.content)).size == (128, 96)
    else:
        info = _probe(response.content, target, demuxer)
        assert abs(info.duration - 2.0) <= 0.15
        if target == "webm":
            assert (info.video.codec, info.video.width, info.video.height) == ("vp9", 64, 48)
            assert info.audio.codec == "opus"
        if target == "mp3":
            assert info.video is None and info.audio.codec == "mp3"
    assert conversions_used(pro) == before + 1


def test_sync_output_over_the_limit_is_stored_and_answered_303(pro):
    song = av.sample("mp3", 50.0, rate=48000)  # small as MP3, over 4 MB as PCM (50 s x 96 KB/s)
    assert len(song) < 1024 * 1024
    response = _convert(pro, song, "wav", filename="song.mp3")
    assert response.status_code == 303, response.text
    assert response.json()["status"] == "succeeded"
    output = requests.get(response.headers["Location"], timeout=30)
    assert output.status_code == 200 and len(output.content) > 4 * 1024 * 1024
    assert abs(_probe(output.content, "wav", "wav").duration - 50.0) < 0.1


def test_bulk_routes_media_and_images_to_their_workers(pro):
    clip = upload(pro, av.sample("mp4", 1.0), "clip.mp4")
    picture = upload(pro, images.sample("png", 40, 30), "a.png")
    items = [
        {"file_id": clip["id"], "target": "gif", "options": {"fps": 5}},
        {"file_id": picture["id"], "target": "jpg", "options": {"width": 20}},
    ]
    created = pro.post("/v1/conversions/bulk", json={"items": items})
    assert created.status_code == 202, created.text
    finished = [wait_for_conversion(pro, job["id"]) for job in created.json()["data"]]
    assert [job["status"] for job in finished] == ["succeeded", "succeeded"]
    outputs = [pro.get(f"/v1/files/{job['output_file_id']}").json() for job in finished]
    assert outputs[0]["metadata"]["kind"] == "video" and outputs[0]["metadata"]["streams"][0]["fps"] == 5.0
    assert outputs[1]["format"] == "jpg"


def test_options_that_do_not_apply_are_named_and_uncharged(pro):
    before = conversions_used(pro)
    body = assert_error(_convert(pro, av.sample("mp3"), "wav", width=100), 422, "invalid_parameter")
    assert body["error"]["message"].startswith("width does not apply to converting mp3 to wav")
    assert_error(_convert(pro, av.sample("mp4"), "mp4", fps=120), 422, "invalid_parameter")
    assert_error(_convert(pro, av.sample("mp4"), "jpg", at=30), 422, "invalid_parameter")
    assert conversions_used(pro) == before


def test_hostile_media_is_refused_uncharged_in_bounded_time(pro):
    listener = Listener()
    try:
        cases = [
            ("playlist.m3u8", av.hls_playlist(listener.port), "mp4"),
            ("wrapped.avi", av.avi_wrapped_playlist(listener.port), "mp4"),
            ("list.txt", av.concat_list(), "mp4"),
            ("cut.mp4", av.truncated_mp4(), "webm"),
            ("long.wav", av.wav_claiming(10 * 3600), "mp3"),
            ("huge.avi", av.avi_claiming_huge_frame(), "mp4"),
            ("huge.gif", av.gif_claiming_huge_frame(), "mp4"),
            ("empty.wav", av.zero_length_wav(), "mp3"),
            ("empty.mkv", av.zero_length_mkv(), "mp4"),
        ]
        before = conversions_used(pro)
        for name, data, target in cases:
            started = time.monotonic()
            response = _convert(pro, data, target, filename=name)
            assert time.monotonic() - started < HOSTILE_BOUND_SECONDS, name
            assert response.status_code in (413, 422), (name, response.status_code, response.text)
            code = response.json()["error"]["code"]
            # A concat playlist is plain text: read as a text document, which never becomes video.
            refusals = ("conversion_failed", "file_too_large", "unsupported_conversion")
            assert code in refusals, (name, response.text)
            assert av.PASSWD_MARKER not in response.content
        assert conversions_used(pro) == before
        time.sleep(0.3)
        assert listener.connections == 0
    finally:
        listener.close()


def test_free_tier_duration_and_frame_limits(stack):
    free = Client(stack.url, new_account(stack, tier="free")["api_key"])
    long_song = av.sample("mp3", 150.0, rate=8000)
    body = assert_error(_convert(free, long_song, "wav"), 413, "file_too_large")
    assert "limit of 120 s" in body["error"]["message"]
    hd = av.sample("mp4", 0.5, 1920, 1080, 2)
    body = assert_error(_convert(free, hd, "webm"), 413, "file_too_large")
    assert "1280x720" in body["error"]["message"]
    assert _convert(free, hd, "jpg", width=640).status_code == 200  # asking for less brings it within
    assert_error(_convert(free, av.sample("mp4"), "mp4", width=1920, enlarge="true"), 422, "invalid_parameter")
    assert conversions_used(free) == 1


def test_async_job_with_units_metadata_and_webhook(stack, pro):
    song = av.sample("mp3", 90.0, rate=8000)
    source = upload(pro, song, "song.mp3")
    meta = source["metadata"]
    assert meta["kind"] == "audio" and meta["format"] == "mp3" and abs(meta["duration"] - 90) < 0.2
    assert meta["streams"] == [{"type": "audio", "codec": "mp3", "sample_rate": 8000, "channels": 1}]
    assert isinstance(meta["bit_rate"], int)
    assert pro.post("/v1/webhooks/secret").status_code == 201
    with running_receiver() as receiver:
        hook = pro.post(
            "/v1/webhooks", json={"url": receiver.script("/media", [200]), "events": ["conversion.succeeded"]}
        )
        assert hook.status_code == 201, hook.text
        before = conversions_used(pro)
        created = pro.post(
            "/v1/conversions",
            json={"file_id": source["id"], "target": "opus", "options": {"audio_bitrate": 32, "duration": 75}},
        )
        assert created.status_code == 202, created.text
        job = created.json()
        assert job["status"] == "queued" and job["options"] == {"audio_bitrate": 32, "duration": 75}
        finished = wait_for_conversion(pro, job["id"])
        assert finished["status"] == "succeeded", finished
        assert conversions_used(pro) == before + 2  # 75 s of output: two started minutes
        (delivery,) = receiver.wait_for("/media", 1, 60)
        event = json.loads(delivery.body)
        assert event["type"] == "conversion.succeeded" and event["data"]["id"] == job["id"]
    output = pro.get(f"/v1/files/{finished['output_file_id']}").json()
    assert output["format"] == "opus" and output["metadata"]["kind"] == "audio"
    assert abs(output["metadata"]["duration"] - 75) < 0.2


def test_async_job_failure_gives_every_unit_back(pro):
    source = upload(pro, av.sample("mp3", 90.0, rate=8000), "song.mp3")
    before = conversions_used(pro)
    created = pro.post("/v1/conversions", json={"file_id": source["id"], "target": "mp4"})
    assert_error(created, 422, "unsupported_conversion")
    # What the worker's plan would refuse is refused at the request, from the probe `complete` stored.
    bad = pro.post("/v1/conversions", json={"file_id": source["id"], "target": "wav", "options": {"start": 500}})
    assert "start" in assert_error(bad, 422, "invalid_parameter")["error"]["message"]
    assert conversions_used(pro) == before
    assert_error(
        pro.post("/v1/conversions", json={"file_id": source["id"], "target": "wav", "options": {"page": 2}}),
        422,
        "invalid_parameter",
    )


def test_metadata_of_images_and_pdfs(pro):
    png = upload(pro, images.sample("png", 40, 30), "a.png")
    assert png["metadata"] == {"kind": "image", "format": "png", "width": 40, "height": 30}
    document = images.sample("pdf", 40, 30)
    pdf = upload(pro, document, "a.pdf")
    assert pdf["metadata"] == {"kind": "document", "format": "pdf", "pages": len(pypdfium2.PdfDocument(document))}
    clip = upload(pro, av.sample("mp4", 1.0, 64, 48, 10), "clip.mp4")["metadata"]
    assert clip["kind"] == "video" and clip["streams"][0] == {
        "type": "video", "codec": "h264", "width": 64, "height": 48, "fps": 10.0
    }  # fmt: skip


def test_sync_convert_past_the_budget_answers_202_and_goes_on(tmp_path):
    # A budget no larger than the time kept for answering leaves no time to wait for the media worker.
    budget = {"SYNC_BUDGET_SECONDS": str(SYNC_ANSWER_RESERVE_SECONDS)}
    local = start_local_stack(ROOT / "template.yaml", tmp_path / "stack", environment=budget)
    try:
        client = Client(local.url, new_account(local, tier="pro")["api_key"])
        response = _convert(client, av.sample("mp4", 1.0), "webm", filename="late.mp4")
        assert response.status_code == 202, response.text
        job = response.json()
        assert response.headers["Location"] == f"/v1/conversions/{job['id']}"
        assert job["status"] in ("queued", "processing") and job["target"] == "webm"
        finished = wait_for_conversion(client, job["id"])
        assert finished["status"] == "succeeded"
        kept = client.get(f"/v1/files/{finished['source_file_id']}").json()
        assert kept["format"] == "mp4" and kept["origin"] == "upload"
    finally:
        local.stop()
