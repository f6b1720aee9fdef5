"""docs/api.md §5 "Conversion" and "Files" with the metering of §3, through the local gateway."""

from __future__ import annotations

import base64
import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
import requests

from tests.helpers import media_samples as media
from tests.helpers.local_api import Client, assert_error, conversions_used, new_account, post_file, wait_for_conversion
from tests.helpers.local_stack import moto_client
from tests.integration.media import decode

FORMATS = None


@pytest.fixture(scope="module")
def matrix(stack):
    response = requests.get(stack.url + "/v1/formats", timeout=30)
    assert response.status_code == 200
    return response.json()["formats"]


@pytest.fixture
def pro(stack):
    return Client(stack.url, new_account(stack, tier="pro")["api_key"])


def _convert(client, data, target, filename="input.bin", **fields):
    form = {"target": target, **{k: str(v) for k, v in fields.items()}}
    return client.post("/v1/convert", files={"file": (filename, data)}, data=form)


def test_formats_matrix_is_public_and_complete(matrix):
    assert {"jpg", "png", "webp", "gif", "bmp", "tiff", "heic", "avif", "ico", "pdf"} <= set(matrix)
    assert {"psd", "tga", "jp2", "dds", "sgi", "pcx", "icns", "pnm", "pam", "xbm", "qoi", "jxl", "dng", "svg"} <= set(
        matrix
    )
    assert "jxl" in matrix["png"]["to"] and "page" in matrix["tiff"]["options"]
    assert "heic" not in matrix["jpg"]["to"]  # HEIC is input-only
    assert set(matrix["pdf"]["to"]) == {"pdf", "png", "jpg"}  # pdf → pdf: the PDF tools (test_pdf_tools_api.py)
    for info in matrix.values():
        assert info["to"] and isinstance(info["options"], list)


def test_every_listed_pair_converts_through_the_gateway(stack, matrix):
    client = Client(stack.url, new_account(stack, tier="pro")["api_key"])
    # Image and PDF pairs; media pairs: test_media_api.py.
    images = {name for name, info in matrix.items() if info["content_type"].startswith(("image/", "application/pdf"))}
    # pdf → pdf needs one of the PDF tools' options: test_pdf_tools_api.py.
    jobs = [
        (source, target)
        for source in images
        for target in matrix[source]["to"]
        if target in images and (source, target) != ("pdf", "pdf")
    ]

    def run(pair):
        source, target = pair
        response = _convert(client, media.sample(source, 40, 30), target, filename=f"photo.{source}")
        return source, target, response

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(run, jobs))
    for source, target, response in results:
        assert response.status_code == 200, (source, target, response.status_code, response.text[:300])
        assert response.headers["Content-Type"].split(";")[0] == matrix[target]["content_type"], (source, target)
        assert (
            response.headers["Content-Disposition"] == f'attachment; filename="photo.{matrix[target]["extensions"][0]}"'
        )
        assert response.headers["X-Conversion-Id"].startswith("conv_")
        fmt, width, height = decode(response.content, target)
        assert fmt == target
        if source != "pdf" and target != "pdf":
            expected = (64, 64) if source == "icns" else (40, 30)  # an ICNS icon has fixed square sizes
            assert (width, height) == expected, (source, target, width, height)


def test_resize_options_and_validation(pro):
    jpeg = media.sample("jpg", 400, 200)
    response = _convert(pro, jpeg, "png", width=100, height=100, fit="contain")
    assert response.status_code == 200 and decode(response.content, "png")[1:] == (100, 50)
    response = _convert(pro, jpeg, "webp", width=100, height=100, fit="cover", quality=60)
    assert response.status_code == 200 and decode(response.content, "webp")[1:] == (100, 100)
    for bad in ({"quality": 0}, {"quality": "high"}, {"width": -5}, {"fit": "stretch"}):
        assert_error(_convert(pro, jpeg, "png", **bad), 422, "invalid_parameter")
    assert_error(_convert(pro, jpeg, "docx"), 422, "unsupported_conversion")
    assert_error(pro.post("/v1/convert", files={"file": ("a.jpg", jpeg)}), 400, "invalid_request")  # no target
    assert_error(pro.post("/v1/convert", data={"target": "png"}), 400, "invalid_request")  # no file
    assert_error(pro.post("/v1/convert", json={"target": "png"}), 400, "invalid_request")  # not multipart


def test_compress_never_grows(pro):
    for fmt in ("jpg", "png", "webp"):
        data = media.sample(fmt, 300, 200)
        response = pro.post("/v1/compress", files={"file": (f"x.{fmt}", data)}, data={"quality": "60"})
        assert response.status_code == 200, response.text
        assert len(response.content) <= len(data), fmt
        assert decode(response.content, fmt)[1:] == (300, 200)
    tiny = media.encode(media.photo(1, 1), "png")
    response = pro.post("/v1/compress", files={"file": ("tiny.png", tiny)})
    assert response.status_code == 200 and len(response.content) <= len(tiny)


def test_large_output_is_stored_and_answered_303(pro):
    from PIL import Image

    smooth = Image.linear_gradient("L").resize((1600, 1000)).convert("RGB")  # tiny PNG, 4.8 MB as BMP
    png = media.encode(smooth, "png")
    assert len(png) < 4 * 1024 * 1024
    response = _convert(pro, png, "bmp", filename="big.png")
    assert response.status_code == 303, response.text[:300]
    location = response.headers["Location"]
    assert response.headers["X-Conversion-Id"].startswith("conv_")
    download = requests.get(location, timeout=30)
    assert download.status_code == 200
    assert decode(download.content, "bmp")[1:] == (1600, 1000)


def test_sync_size_limits(stack, pro):
    too_big = b"\x89PNG\r\n\x1a\n" + b"\0" * (4 * 1024 * 1024 + 10)
    body = assert_error(_convert(pro, too_big, "jpg"), 413, "file_too_large")
    assert "/v1/files" in body["error"]["message"]
    assert f"The file ({len(too_big)} bytes)" in body["error"]["message"]  # the file's size, not the body's
    master = new_account(stack, tier="pro")
    sandbox = Client(stack.url, master["api_key"]).post("/v1/keys", json={"name": "sb", "mode": "test"}).json()
    test_client = Client(stack.url, sandbox["api_key"])
    assert_error(_convert(test_client, media.encode(media.photo(800, 800), "bmp"), "png"), 413, "file_too_large")


@pytest.mark.parametrize(
    ("make", "status", "code"),
    [
        (lambda: media.png_bomb(), 422, "conversion_failed"),
        (lambda: media.gif_bomb(), 422, "conversion_failed"),
        (lambda: media.sample("png", 200, 200)[:300], 422, "conversion_failed"),  # truncated
        (lambda: b"", 422, "invalid_parameter"),  # empty: names `file` (docs/api.md §4)
        (lambda: b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 1 1\n", 415, "unsupported_media_type"),  # by design
        (
            lambda: b'<!DOCTYPE svg [<!ENTITY a "b">]><svg xmlns="http://www.w3.org/2000/svg"/>',
            422,
            "conversion_failed",
        ),
        (lambda: media.zip_file(), 415, "unsupported_media_type"),
        # Text is a document now (docs/api.md "Documents": txt, whatever its name): bytes with a NUL are no text.
        (lambda: b"just some bytes\x00 named like a picture", 415, "unsupported_media_type"),
    ],
)
def test_hostile_input_gets_the_documented_error_and_is_not_charged(pro, make, status, code):
    before = conversions_used(pro)
    assert_error(_convert(pro, make(), "jpg", filename="innocent.png"), status, code)
    assert conversions_used(pro) == before


def test_lying_extension_is_sniffed(pro):
    response = _convert(pro, media.sample("png", 20, 10), "webp", filename="really-a-png.jpg")
    assert response.status_code == 200 and decode(response.content, "webp")[1:] == (20, 10)


def test_successful_conversions_are_counted(pro):
    before = conversions_used(pro)
    assert _convert(pro, media.sample("png", 20, 10), "jpg").status_code == 200
    assert conversions_used(pro) == before + 1
    month = datetime.now(UTC).strftime("%Y-%m")
    usage = pro.get("/v1/usage", params={"from": month, "to": month}).json()
    assert usage["months"][0]["conversions"] == before + 1
    assert usage["days"][-1]["conversions"] >= 1


def test_test_mode_keys_are_never_charged(stack):
    master = Client(stack.url, new_account(stack, tier="pro")["api_key"])
    sandbox = master.post("/v1/keys", json={"name": "sandbox", "mode": "test"}).json()
    client = Client(stack.url, sandbox["api_key"])
    assert _convert(client, media.sample("png", 20, 10), "jpg").status_code == 200
    assert conversions_used(master) == 0


def test_quota_is_never_over_counted_under_concurrency(stack):
    account = new_account(stack, tier="free")
    client = Client(stack.url, account["api_key"])
    # Seed the month's counter near the free quota (as an operator would see after 995 conversions).
    state = stack.state
    counters = state["outputs"]["CountersTableName"]
    dynamodb = moto_client(stack, "dynamodb")
    month = datetime.now(UTC).strftime("%Y-%m")
    dynamodb.put_item(
        TableName=counters,
        Item={
            "counter_id": {"S": f"conv#{account['account_id']}#{month}"},
            "value": {"N": "995"},
            "expires_at": {"N": str(int(time.time()) + 86400 * 40)},
        },
    )
    if datetime.now(UTC).second > 40:  # the 10 requests must share one rate-limit minute
        time.sleep(61 - datetime.now(UTC).second)
    png = media.sample("png", 16, 16)
    with ThreadPoolExecutor(max_workers=10) as pool:
        responses = list(pool.map(lambda _: _convert(client, png, "jpg"), range(10)))
    codes = sorted(r.status_code for r in responses)
    assert codes == [200] * 5 + [429] * 5, codes
    limited = [r for r in responses if r.status_code == 429]
    for r in limited:
        assert_error(r, 429, "quota_exceeded")
        assert int(r.headers["Retry-After"]) > 0
    item = dynamodb.get_item(TableName=counters, Key={"counter_id": {"S": f"conv#{account['account_id']}#{month}"}})
    assert item["Item"]["value"]["N"] == "1000"


def test_full_async_path(pro):
    source = media.sample("jpg", 640, 480)
    file = post_file(pro, source, "holiday.jpg")
    policy = json.loads(base64.b64decode(file["upload"]["fields"]["policy"]))
    conditions = policy["conditions"]
    assert {"key": file["upload"]["fields"]["key"]} in conditions
    assert ["content-length-range", 1, 2 * 1024**3] in conditions  # the pro cap
    assert file["upload"]["fields"]["key"].startswith("7d/")  # pro retention prefix

    done = pro.post(f"/v1/files/{file['id']}/complete")
    assert done.status_code == 200, done.text
    ready = done.json()
    assert ready["status"] == "ready" and ready["size"] == len(source) and ready["format"] == "jpg"

    created = pro.post("/v1/conversions", json={"file_id": file["id"], "target": "webp", "options": {"width": 320}})
    assert created.status_code == 202, created.text
    job = created.json()
    assert job["status"] == "queued" and job["source_file_id"] == file["id"]
    finished = wait_for_conversion(pro, job["id"])
    assert finished["status"] == "succeeded", finished
    assert set(finished) >= {
        "id",
        "status",
        "source_file_id",
        "target",
        "output_file_id",
        "error",
        "created_at",
        "completed_at",
    }

    content = pro.get(f"/v1/files/{finished['output_file_id']}/content")
    assert content.status_code == 302
    output = requests.get(content.headers["Location"], timeout=30)
    assert decode(output.content, "webp")[1:] == (320, 240)

    listed = pro.get("/v1/conversions").json()
    assert listed["data"][0]["id"] == job["id"]  # newest first


def test_idempotent_retry_returns_the_same_conversion_and_charges_once(pro):
    file = post_file(pro, media.sample("png", 32, 32), "a.png")
    assert pro.post(f"/v1/files/{file['id']}/complete").status_code == 200
    before = conversions_used(pro)
    key = str(uuid.uuid4())
    body = {"file_id": file["id"], "target": "jpg"}
    first = pro.post("/v1/conversions", json=body, headers={"Idempotency-Key": key})
    second = pro.post("/v1/conversions", json=body, headers={"Idempotency-Key": key})
    assert first.status_code == second.status_code == 202
    assert first.json()["id"] == second.json()["id"]
    assert conversions_used(pro) == before + 1
    other = pro.post("/v1/conversions", json={**body, "target": "png"}, headers={"Idempotency-Key": key})
    assert_error(other, 409, "conflict")


def test_failed_job_is_recorded_and_not_charged(pro):
    truncated = media.sample("png", 300, 300)[:500]
    file = post_file(pro, truncated, "broken.png")
    assert pro.post(f"/v1/files/{file['id']}/complete").status_code == 200  # the header sniffs as PNG
    before = conversions_used(pro)
    job = pro.post("/v1/conversions", json={"file_id": file["id"], "target": "jpg"}).json()
    finished = wait_for_conversion(pro, job["id"])
    assert finished["status"] == "failed"
    assert finished["error"]["code"] == "conversion_failed"
    assert conversions_used(pro) == before


def test_upload_completion_checks_what_really_arrived(pro):
    created = pro.post("/v1/files", json={"filename": "nothing.png", "size": 10}).json()
    assert_error(pro.post(f"/v1/files/{created['id']}/complete"), 409, "conflict")
    eps = post_file(pro, b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 1 1\n", "drawing.png")
    assert_error(pro.post(f"/v1/files/{eps['id']}/complete"), 415, "unsupported_media_type")
    assert_error(pro.post("/v1/files", json={"filename": "huge", "size": 3 * 1024**3}), 413, "file_too_large")
    assert_error(pro.post("/v1/files", json={"filename": "x", "size": "big"}), 400, "invalid_request")


def test_files_list_get_delete(pro):
    file = post_file(pro, media.sample("gif", 10, 10), "anim.gif")
    assert pro.post(f"/v1/files/{file['id']}/complete").status_code == 200
    assert pro.get(f"/v1/files/{file['id']}").json()["status"] == "ready"
    assert file["id"] in [f["id"] for f in pro.get("/v1/files").json()["data"]]
    assert pro.delete(f"/v1/files/{file['id']}").status_code == 204
    assert_error(pro.get(f"/v1/files/{file['id']}"), 404, "not_found")
    assert_error(pro.get(f"/v1/files/{file['id']}/content"), 404, "not_found")


def test_another_accounts_ids_are_not_found(stack, pro):
    file = post_file(pro, media.sample("png", 8, 8), "mine.png")
    assert pro.post(f"/v1/files/{file['id']}/complete").status_code == 200
    job = pro.post("/v1/conversions", json={"file_id": file["id"], "target": "jpg"}).json()
    stranger = Client(stack.url, new_account(stack, tier="pro")["api_key"])
    assert_error(stranger.get(f"/v1/files/{file['id']}"), 404, "not_found")
    assert_error(stranger.get(f"/v1/files/{file['id']}/content"), 404, "not_found")
    assert_error(stranger.delete(f"/v1/files/{file['id']}"), 404, "not_found")
    assert_error(stranger.post(f"/v1/files/{file['id']}/complete"), 404, "not_found")
    assert_error(stranger.get(f"/v1/conversions/{job['id']}"), 404, "not_found")
    assert_error(stranger.post("/v1/conversions", json={"file_id": file["id"], "target": "jpg"}), 404, "not_found")


def test_bulk_is_pro_only_and_bounded(stack, pro):
    free = Client(stack.url, new_account(stack, tier="free")["api_key"])
    assert_error(free.post("/v1/conversions/bulk", json={"items": []}), 403, "tier_required")
    file = post_file(pro, media.sample("png", 8, 8), "b.png")
    assert pro.post(f"/v1/files/{file['id']}/complete").status_code == 200
    items = [{"file_id": file["id"], "target": t} for t in ("jpg", "webp", "gif")]
    response = pro.post("/v1/conversions/bulk", json={"items": items})
    assert response.status_code == 202, response.text
    jobs = response.json()["data"]
    assert [j["target"] for j in jobs] == ["jpg", "webp", "gif"]
    for job in jobs:
        assert wait_for_conversion(pro, job["id"])["status"] == "succeeded"
    too_many = [{"file_id": file["id"], "target": "jpg"}] * 101
    assert_error(pro.post("/v1/conversions/bulk", json={"items": too_many}), 400, "invalid_request")
    body = assert_error(
        pro.post("/v1/conversions/bulk", json={"items": [items[0], {"file_id": file["id"]}]}), 400, "invalid_request"
    )
    assert "items[1].target" in body["error"]["message"]
