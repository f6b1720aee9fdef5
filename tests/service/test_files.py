"""Files (docs/api.md §5 "Files"): presigned upload, completion checks, get/list/content/delete, other accounts."""

from __future__ import annotations

import base64
import json

import requests

from tests.helpers import media_samples as media
from tests.service.harness import ServiceApi
from tests.service.helpers import Account, assert_error, sign_up


def test_create_upload_pins_key_and_size_cap(free_account: Account) -> None:
    created = free_account.call("POST", "/v1/files", json_body={"filename": "a.png", "size": 100})
    assert created.status == 201, created
    file = created.json()
    assert file["id"] and set(file["upload"]) >= {"url", "fields", "expires_at"}
    fields = file["upload"]["fields"]
    conditions = json.loads(base64.b64decode(fields["policy"]))["conditions"]
    assert {"key": fields["key"]} in conditions
    assert ["content-length-range", 1, 25 * 1024 * 1024] in conditions  # the free tier's cap
    assert fields["key"].startswith("1d/")  # free files expire after a day
    too_big = free_account.call("POST", "/v1/files", json_body={"filename": "big.png", "size": 25 * 1024 * 1024 + 1})
    assert_error(too_big, 413, "file_too_large")
    assert_error(
        free_account.call("POST", "/v1/files", json_body={"filename": "x", "size": "big"}), 400, "invalid_request"
    )


def test_complete_checks_what_really_arrived(pro_account: Account) -> None:
    nothing = pro_account.call("POST", "/v1/files", json_body={"filename": "nothing.png", "size": 10}).json()
    assert_error(pro_account.call("POST", f"/v1/files/{nothing['id']}/complete"), 409, "conflict")

    source = media.sample("png", 40, 30)
    ready = pro_account.upload(source, "photo.jpg")  # the name lies; the bytes decide
    assert ready["status"] == "ready" and ready["size"] == len(source) and ready["format"] == "png"

    created = pro_account.call("POST", "/v1/files", json_body={"filename": "drawing.png", "size": 100}).json()
    upload = created["upload"]
    # PostScript: refused by design (its usual interpreter runs code from the file), whatever the name says.
    postscript = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n"
    requests.post(upload["url"], data=upload["fields"], files={"file": ("drawing.png", postscript)}, timeout=30)
    assert_error(pro_account.call("POST", f"/v1/files/{created['id']}/complete"), 415, "unsupported_media_type")


def test_get_list_content_and_delete(pro_account: Account) -> None:
    source = media.sample("gif", 10, 10)
    file = pro_account.upload(source, "anim.gif")
    got = pro_account.call("GET", f"/v1/files/{file['id']}")
    assert got.status == 200 and got.json()["status"] == "ready", got
    listed = pro_account.call("GET", "/v1/files")
    assert file["id"] in [f["id"] for f in listed.json()["data"]]
    content = pro_account.call("GET", f"/v1/files/{file['id']}/content")
    assert content.status == 302, content
    assert requests.get(content.headers["location"], timeout=30).content == source
    assert pro_account.call("DELETE", f"/v1/files/{file['id']}").status == 204
    assert_error(pro_account.call("GET", f"/v1/files/{file['id']}"), 404, "not_found")
    assert_error(pro_account.call("GET", f"/v1/files/{file['id']}/content"), 404, "not_found")


def test_another_accounts_file_is_not_found(api: ServiceApi, pro_account: Account) -> None:
    file = pro_account.upload(media.sample("png", 8, 8), "mine.png")
    stranger = sign_up(api, "pro")
    for method, path in (
        ("GET", f"/v1/files/{file['id']}"),
        ("GET", f"/v1/files/{file['id']}/content"),
        ("POST", f"/v1/files/{file['id']}/complete"),
        ("DELETE", f"/v1/files/{file['id']}"),
    ):
        assert_error(stranger.call(method, path), 404, "not_found")
    assert file["id"] not in [f["id"] for f in stranger.call("GET", "/v1/files").json()["data"]]
    assert pro_account.call("GET", f"/v1/files/{file['id']}").status == 200  # untouched
