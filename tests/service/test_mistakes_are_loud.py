"""docs/api.md §4 "Mistakes are loud", on every route: what a route does not take is 422 naming it with "did you
mean", unknown values name the closest valid one, empty files are 422 naming `file`, every 202 has Location,
a known path's other methods are 405 with Allow, and every list refuses a forged cursor with 400."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
import urllib3

from filegate.routes import ROUTES
from tests.helpers import media_samples as media
from tests.service.harness import Response
from tests.service.helpers import Account, assert_error

PNG = media.sample("png", 64, 48)


def _message(response: Response, status: int, code: str) -> str:
    return str(assert_error(response, status, code)["error"]["message"])


def _multipart(account: Account, path: str, fields: dict[str, Any]) -> Response:
    body, content_type = urllib3.encode_multipart_formdata(fields)
    return account.call("POST", path, body=body, headers={"Content-Type": content_type})


# ------------------------------------------------------------------ unknown names


def test_a_typo_in_a_form_field_is_refused_naming_it_with_the_option_meant(free_account: Account) -> None:
    message = _message(free_account.convert(PNG, "webp", widht="100"), 422, "invalid_parameter")
    assert message.startswith("widht:") and "did you mean `width`?" in message
    message = _message(free_account.convert(PNG, "webp", foo="1"), 422, "invalid_parameter")
    assert message.startswith("foo:") and "did you mean" not in message
    message = _message(free_account.convert(PNG, None, qualty="50"), 422, "invalid_parameter")  # /v1/compress
    assert message.startswith("qualty:") and "`quality`" in message


def test_every_option_of_the_table_is_a_form_field_the_sync_routes_take(free_account: Account) -> None:
    # The option table is the one list: an option of another kind of conversion is refused by its own rule
    # ("does not apply"), never as an unknown field.
    response = free_account.convert(PNG, "webp", fps="10")
    message = _message(response, 422, "invalid_parameter")
    assert "unknown" not in message


def test_unknown_json_members_are_refused_naming_them(free_account: Account) -> None:
    created = free_account.call("POST", "/v1/keys", json_body={"name": "x", "scope": ["files:read"]})
    message = _message(created, 422, "invalid_parameter")
    assert message.startswith("scope:") and "did you mean `scopes`?" in message
    files = free_account.call("POST", "/v1/files", json_body={"filename": "a.png", "size": 10, "sise": 1})
    assert "did you mean `size`?" in _message(files, 422, "invalid_parameter")
    file_id = free_account.upload(PNG)["id"]
    job = free_account.call("POST", "/v1/conversions", json_body={"file_id": file_id, "target": "webp", "taget": "x"})
    assert _message(job, 422, "invalid_parameter").startswith("taget:")
    option = free_account.call(
        "POST", "/v1/conversions", json_body={"file_id": file_id, "target": "webp", "options": {"widht": 10}}
    )
    message = _message(option, 422, "invalid_parameter")
    assert message.startswith("options.widht:") and "did you mean `width`?" in message


def test_unknown_query_parameters_are_refused_on_every_route(free_account: Account) -> None:
    listed = free_account.call("GET", "/v1/keys", query={"limt": "5"})
    message = _message(listed, 422, "invalid_parameter")
    assert message.startswith("limt:") and "did you mean `limit`?" in message
    me = free_account.call("GET", "/v1/entitlements/me", query={"verbose": "1"})
    assert "it takes none" in _message(me, 422, "invalid_parameter")
    formats = free_account.call("GET", "/v1/formats", query={"format": "png"})  # a public route too
    assert _message(formats, 422, "invalid_parameter").startswith("format:")
    # What a route declares still passes.
    assert free_account.call("GET", "/v1/keys", query={"limit": "5"}).status == 200


def test_unknown_values_name_the_closest_valid_one(free_account: Account) -> None:
    target = _message(free_account.convert(PNG, "wepb"), 422, "unsupported_conversion")
    assert "did you mean `webp`?" in target
    scope = free_account.call("POST", "/v1/keys", json_body={"name": "x", "scopes": ["file:read"]})
    assert "did you mean `files:read`?" in _message(scope, 400, "invalid_request")
    mode = free_account.call("POST", "/v1/keys", json_body={"name": "x", "mode": "tset"})
    message = _message(mode, 400, "invalid_request")
    assert message.startswith("mode:") and "did you mean `test`?" in message
    fit = _message(free_account.convert(PNG, "webp", width="10", fit="cove"), 422, "invalid_parameter")
    assert fit.startswith("fit") and "did you mean `cover`?" in fit
    job = free_account.call(
        "POST",
        "/v1/conversions",
        json_body={"file_id": free_account.upload(PNG)["id"], "target": "webp", "options": {"fit": "contian"}},
    )
    assert "did you mean `contain`?" in _message(job, 422, "invalid_parameter")


def test_unknown_webhook_events_name_the_closest(pro_account: Account) -> None:
    body = {"url": "https://example.com/hook", "events": ["conversion.succeded"]}
    message = _message(pro_account.call("POST", "/v1/webhooks", json_body=body), 422, "invalid_parameter")
    assert "did you mean `conversion.succeeded`?" in message


# ------------------------------------------------------------------ empty files, 202s, 405s


def test_an_empty_file_is_invalid_parameter_naming_file_on_every_route_that_takes_one(free_account: Account) -> None:
    for response in (
        free_account.convert(b"", "webp"),
        free_account.convert(b"", None),
        free_account.call("POST", "/v1/files", json_body={"filename": "empty.png", "size": 0}),
    ):
        assert _message(response, 422, "invalid_parameter").startswith("file:")


def test_every_202_carries_location(pro_account: Account) -> None:
    file_id = pro_account.upload(PNG)["id"]
    job = pro_account.call("POST", "/v1/conversions", json_body={"file_id": file_id, "target": "webp"})
    assert job.status == 202, job
    assert job.headers["location"] == f"/v1/conversions/{job.json()['id']}"
    bulk = pro_account.call(
        "POST", "/v1/conversions/bulk", json_body={"items": [{"file_id": file_id, "target": "jpg"}]}
    )
    assert bulk.status == 202 and bulk.headers["location"] == "/v1/conversions", bulk
    pro_account.call("POST", "/v1/webhooks/secret")
    hook = pro_account.call("POST", "/v1/webhooks", json_body={"url": "http://127.0.0.1:9/hook"})
    assert hook.status == 201, hook
    test = pro_account.call("POST", f"/v1/webhooks/{hook.json()['id']}/test")
    assert test.status == 202 and test.headers["location"] == f"/v1/webhooks/{hook.json()['id']}/deliveries"


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("DELETE", "/v1/formats", "GET"),
        ("PUT", "/v1/keys", "GET, POST"),
        ("GET", "/v1/keys/rotate", "POST"),  # the literal resource wins over /v1/keys/{id}
        ("POST", "/v1/files/file_1", "DELETE, GET"),
        ("PATCH", "/v1/webhooks/secret", "GET, POST"),
    ],
)
def test_a_known_path_with_another_method_is_405_with_allow(
    free_account: Account, method: str, path: str, allow: str
) -> None:
    for key in (free_account.key, None):  # the answer needs no key: the route table is public
        response = free_account.call(method, path, key=key)
        message = _message(response, 405, "method_not_allowed")
        assert response.headers["allow"] == allow
        assert allow in message


def test_every_path_of_the_route_table_answers_405_for_a_method_it_does_not_take(free_account: Account) -> None:
    by_path: dict[str, set[str]] = {}
    for route in ROUTES:
        by_path.setdefault(route.path, set()).add(route.method)
    for path, methods in by_path.items():
        other = next(m for m in ("PUT", "PATCH", "DELETE", "POST", "GET") if m not in methods)
        concrete = path.replace("{id}", "x_1")
        response = free_account.call(other, concrete, key=None)
        assert response.status == 405, (other, path, response)
        assert set(response.headers["allow"].split(", ")) == methods, path


# ------------------------------------------------------------------ cursors


def _cursor(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode()


def _forged_cursors(account_id: str) -> list[str]:
    """Cursors a client could make: malformed, foreign, and ones that still name the caller's account with
    the wrong attributes or types (one of exactly the right shape is only a position to start from)."""
    mine = {"S": account_id}
    return [
        "not-a-cursor",
        "%%%",
        _cursor([]),
        _cursor("x"),
        _cursor({"account_id": {"S": "acct_someone_else"}}),
        _cursor({"account_id": mine}),  # names the account, lacks the index's keys
        _cursor({"account_id": mine, "created_at": {"S": "2026"}}),
        _cursor({"account_id": mine, "created_at": {"N": "x"}, "key_id": {"S": "k"}}),
        _cursor({"account_id": mine, "created_at": {"S": 5}, "key_id": {"S": "k"}}),
        _cursor({"account_id": mine, "entry_key": {"B": "AAAA"}}),
        _cursor({"account_id": mine, "entry_key": {"S": ""}}),
        _cursor({"account_id": mine, "entry_key": {"S": "x", "N": "1"}}),
        _cursor({"account_id": mine, "entry_key": {"L": []}}),
        _cursor(
            {"account_id": mine, "file_id": {"S": "f"}, "created_at": {"S": "x"}, "a": {"S": "b"}, "c": {"S": "d"}}
        ),
        _cursor({"account_id": mine, "conversion_id": {"N": "1"}, "created_at": {"S": "t"}}),
        _cursor({"account_id": mine, "conversion_id": {"S": "c"}, "created_at": {"S": "t"}, "extra": {"S": "x"}}),
        _cursor({"account_id": mine, "webhook_id": {"S": "w"}, "delivery_id": {"S": ""}, "created_at": {"S": "t"}}),
        _cursor({"account_id": mine, "zzz": {"S": "1"}}),
    ]


def test_every_list_refuses_a_forged_cursor_with_400_naming_cursor(pro_account: Account) -> None:
    pro_account.call("POST", "/v1/webhooks/secret")
    hook = pro_account.call("POST", "/v1/webhooks", json_body={"url": "http://127.0.0.1:9/hook"}).json()
    # Every list is every route whose description (generated from the code) takes a cursor.
    document = pro_account.call("GET", "/v1/openapi.json").json()
    lists = [
        path.replace("{id}", hook["id"])
        for path, operations in document["paths"].items()
        if any(p["name"] == "cursor" for p in operations.get("get", {}).get("parameters", []))
    ]
    assert len(lists) >= 5 and "/v1/audit" in lists and "/v1/keys" in lists, lists
    for path in lists:
        for cursor in _forged_cursors(pro_account.account_id):
            response = pro_account.call("GET", path, query={"cursor": cursor})
            message = _message(response, 400, "invalid_request")
            assert message.startswith("cursor"), (path, cursor, message)


# ------------------------------------------------------------------ the webhook secret and import headers


def test_the_webhook_secret_is_revealed_without_rotating_and_audited(pro_account: Account) -> None:
    none_yet = pro_account.call("GET", "/v1/webhooks/secret")
    assert "POST /v1/webhooks/secret" in _message(none_yet, 404, "not_found")
    created = pro_account.call("POST", "/v1/webhooks/secret").json()
    shown = pro_account.call("GET", "/v1/webhooks/secret")
    assert shown.status == 200, shown
    assert shown.json()["secret"] == created["secret"] and shown.json()["created_at"] == created["created_at"]
    assert pro_account.call("GET", "/v1/webhooks/secret").json()["secret"] == created["secret"]  # never rotates
    actions = [e["action"] for e in pro_account.call("GET", "/v1/audit").json()["data"]]
    assert actions.count("webhook.secret_revealed") == 2


def test_the_webhook_secret_is_for_webhooks_managers_on_pro(free_account: Account, pro_account: Account) -> None:
    assert_error(free_account.call("GET", "/v1/webhooks/secret"), 403, "tier_required")
    reader = pro_account.create_key(scopes=["files:read"])
    assert_error(pro_account.with_key(reader["api_key"]).call("GET", "/v1/webhooks/secret"), 403, "insufficient_scope")


@pytest.mark.parametrize(
    "value",
    ["Bearer caf\u00e9", "Bearer \u0442\u043e\u043a\u0435\u043d", "Bearer \U0001f511", "a\u00a0b", "x\x7f", " lead"],
)
def test_import_header_values_outside_visible_ascii_are_refused_at_the_request(
    free_account: Account, value: str
) -> None:
    for path, body in (
        ("/v1/files/import", {"url": "http://127.0.0.1:9/a.png", "headers": {"Authorization": value}}),
        ("/v1/conversions", {"url": "http://127.0.0.1:9/a.png", "headers": {"Authorization": value}, "target": "webp"}),
    ):
        message = _message(free_account.call("POST", path, json_body=body), 422, "invalid_parameter")
        assert message.startswith("headers.Authorization:"), message
        assert "Error" not in message  # no internal exception name


def test_import_header_names_must_be_tokens(free_account: Account) -> None:
    body = {"url": "http://127.0.0.1:9/a.png", "headers": {"X Bad": "1"}}
    assert _message(free_account.call("POST", "/v1/files/import", json_body=body), 422, "invalid_parameter").startswith(
        "headers"
    )
