"""Dashboard pages and their actions (docs/api.md §7): CSRF and Origin, security headers, and each page acting
through the API's own services: the same rules, the same next-request effect, the same audit entries."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
import requests

from filegate.clock import utcnow
from filegate.db import accounts as accounts_table
from tests.helpers import media_samples as media
from tests.service.conftest import Stack
from tests.service.dashboard_client import (
    NEW_KEY,
    Browser,
    api_account,
    assert_security_headers,
    create_key_on_page,
    csrf_token,
    location,
    session_account_id,
)
from tests.service.helpers import assert_error, change_account

PAGES = (
    "/dashboard",
    "/dashboard/keys",
    "/dashboard/usage",
    "/dashboard/conversions",
    "/dashboard/webhooks",
    "/dashboard/audit",
    "/dashboard/sessions",
)


@pytest.fixture
def browser(stack: Stack) -> Browser:
    signed_in = Browser(stack.api, stack.moto_url)
    signed_in.sign_in()
    return signed_in


def _audit(stack: Stack, browser: Browser) -> list[dict[str, Any]]:
    from filegate.audit.service import list_entries

    return list(list_entries(session_account_id(browser), limit=100, cursor=None, now=utcnow())["data"])


# ------------------------------------------------------------------ headers and sign-in walls


def test_every_response_carries_the_security_headers(stack: Stack, browser: Browser) -> None:
    anonymous = Browser(stack.api, stack.moto_url)
    responses = [browser.get(path) for path in PAGES]
    responses += [
        browser.get("/dashboard/usage.csv"),
        browser.get("/dashboard/static/copy.js"),
        browser.get("/dashboard/static/dashboard.css"),
        browser.get("/dashboard/static/nothing.js"),  # 404
        browser.get("/dashboard/keys/key_nope/revoke"),  # 404 from the service
        browser.request("POST", "/dashboard/keys", {"name": "x"}),  # 403: no CSRF token
        anonymous.get("/dashboard"),  # 303 to sign in
        anonymous.get("/dashboard/login"),
    ]
    assert [r.status for r in responses[len(PAGES) :]] == [200, 200, 200, 404, 404, 403, 303, 200]
    for response in responses:
        assert_security_headers(response)


def test_pages_have_no_inline_script_or_style(browser: Browser) -> None:
    for path in (*PAGES, "/dashboard/login"):
        html = browser.get(path).body.decode()
        assert not re.search(r"<script(?![^>]*\bsrc=)", html), path
        assert not re.search(r"\sstyle=|<style|\son[a-z]+=", html), path
        assert "//cdn" not in html and "https://" not in html.split("<main")[0], path


@pytest.mark.parametrize("path", [*PAGES, "/dashboard/usage.csv", "/dashboard/keys/key_x/revoke"])
def test_a_page_without_a_session_sends_to_sign_in(stack: Stack, path: str) -> None:
    response = Browser(stack.api, stack.moto_url).get(path)
    assert response.status == 303 and location(response) == "/dashboard/login"


def test_static_files_are_only_the_shipped_ones(browser: Browser) -> None:
    script = browser.get("/dashboard/static/copy.js")
    assert script.headers["content-type"].startswith("text/javascript")
    for path in ("/dashboard/static/..%2Fweb.py", "/dashboard/static/web.py", "/dashboard/static/%2e%2e"):
        assert browser.get(path).status == 404


# ------------------------------------------------------------------ CSRF and Origin


def test_a_post_without_the_right_token_is_403(stack: Stack, browser: Browser) -> None:
    other = Browser(stack.api, stack.moto_url)
    other.sign_in()
    others_token = csrf_token(other.get("/dashboard/keys").body.decode())
    for fields in ({"name": "x"}, {"name": "x", "csrf_token": ""}, {"name": "x", "csrf_token": others_token}):
        refused = browser.request("POST", "/dashboard/keys", fields)
        assert refused.status == 403, refused
    assert "No keys yet" in browser.get("/dashboard/keys").body.decode()


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Origin": "null", "Sec-Fetch-Site": "same-site"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
    ],
)
def test_a_cross_site_post_is_403_even_with_the_token(browser: Browser, headers: dict[str, str]) -> None:
    token = csrf_token(browser.get("/dashboard/keys").body.decode())
    sent = {"Origin": "", "Sec-Fetch-Site": "", **headers}  # only these headers, not the same-origin defaults
    refused = browser.request("POST", "/dashboard/keys", {"name": "x", "csrf_token": token}, headers=sent)
    assert refused.status == 403, refused
    assert "No keys yet" in browser.get("/dashboard/keys").body.decode()


def test_a_cross_site_logout_does_not_end_the_session(browser: Browser) -> None:
    token = csrf_token(browser.get("/dashboard").body.decode())
    assert browser.request("POST", "/dashboard/logout", {"csrf_token": token}, cross_site=True).status == 403
    assert browser.get("/dashboard").status == 200


def test_sign_in_posts_need_the_sign_in_cookie_and_this_origin(stack: Stack) -> None:
    fresh = Browser(stack.api, stack.moto_url)
    address = f"csrf-{uuid.uuid4().hex}@example.com"
    assert fresh.request("POST", "/dashboard/login", {"email": address, "csrf_token": "x"}).status == 403
    page = fresh.get("/dashboard/login")
    token = csrf_token(page.body.decode())
    cross = fresh.request("POST", "/dashboard/login", {"email": address, "csrf_token": token}, cross_site=True)
    assert cross.status == 403
    stranger = Browser(stack.api, stack.moto_url)  # another browser's token is bound to another cookie
    stranger.get("/dashboard/login")
    assert stranger.request("POST", "/dashboard/login", {"email": address, "csrf_token": token}).status == 403
    assert fresh.request("POST", "/dashboard/login", {"email": address, "csrf_token": token}).status == 200


# ------------------------------------------------------------------ overview and keys


def test_overview_shows_tier_quota_rate_limit_and_a_30_day_chart(browser: Browser) -> None:
    html = browser.get("/dashboard").body.decode()
    assert ">free<" in html and "of 1,000" in html and "10 <span" in html
    assert html.count('<g class="period">') == 30 and 'role="img"' in html
    assert session_account_id(browser) in html  # what an operator asks for


def test_a_key_is_shown_once_and_works_with_the_chosen_rules(stack: Stack, browser: Browser) -> None:
    created, raw = create_key_on_page(browser, allowed_ips="203.0.113.0/24, 2001:db8::/32")
    assert raw.startswith("fg_live_") and b'data-copy="new-key"' in created.body
    listing = browser.get("/dashboard/keys").body.decode()
    assert raw not in listing and raw[:12] in listing  # the prefix only, from now on
    assert "203.0.113.0/24" in listing
    client = api_account(stack.api, browser, raw)
    client.source_ip = "203.0.113.9"
    me = client.call("GET", "/v1/entitlements/me")
    assert me.status == 200 and set(me.json()["key"]["scopes"]) == {"convert:write", "files:read", "keys:manage"}
    client.source_ip = "198.51.100.1"
    assert client.call("GET", "/v1/entitlements/me").status == 401  # outside its allowlist
    entry = next(e for e in _audit(stack, browser) if e["action"] == "key.created")
    assert entry["actor"]["type"] == "session" and "@example.com" in entry["actor"]["label"]
    assert entry["ip"] == browser.source_ip


def test_a_test_mode_key(browser: Browser) -> None:
    _, raw = create_key_on_page(browser, mode="test")
    assert raw.startswith("fg_test_")
    assert re.search(r"<td>test</td>", browser.get("/dashboard/keys").body.decode())


def test_the_api_rules_refuse_a_bad_key_the_same_way(browser: Browser) -> None:
    refused = browser.post("/dashboard/keys", {"name": "x", "allowed_ips": "not-an-address"})
    assert refused.status == 400 and b"allowed_ips" in refused.body
    blank = browser.post("/dashboard/keys", {"name": "   "})
    assert blank.status == 400 and b"name: must be 1 to 100 characters" in blank.body
    past = browser.post("/dashboard/keys", {"name": "x", "expires_on": "2001-01-01"})
    assert past.status == 400 and b"expires_at: must be in the future" in past.body


def test_revoke_asks_first_and_the_api_refuses_the_key_on_its_next_call(stack: Stack, browser: Browser) -> None:
    _, raw = create_key_on_page(browser)
    client = api_account(stack.api, browser, raw)
    cached = stack.api.authorizer_context("GET", "/v1/entitlements/me", key=raw, source_ip=client.source_ip)
    assert cached is not None and client.call("GET", "/v1/entitlements/me").status == 200
    key_id = cached["key_id"]
    confirm = browser.get(f"/dashboard/keys/{key_id}/revoke")
    assert confirm.status == 200 and b"Revoke the key" in confirm.body
    assert client.call("GET", "/v1/entitlements/me").status == 200  # asking is not revoking
    done = browser.post(f"/dashboard/keys/{key_id}/revoke", token_from=f"/dashboard/keys/{key_id}/revoke")
    assert done.status == 303 and location(done) == "/dashboard/keys"
    assert_error(client.call("GET", "/v1/entitlements/me"), 401, "invalid_api_key")
    # Even through a policy API Gateway still caches: the change is stamped, not flushed.
    stale = stack.api.call("GET", "/v1/entitlements/me", key=raw, source_ip=client.source_ip, cached_authorizer=cached)
    assert_error(stale, 401, "invalid_api_key")
    assert "revoked" in browser.get("/dashboard/keys").body.decode()
    assert [e["target"] for e in _audit(stack, browser) if e["action"] == "key.revoked"] == [key_id]


def test_rotate_with_grace_shows_the_new_key_once(stack: Stack, browser: Browser) -> None:
    _, raw = create_key_on_page(browser)
    old = api_account(stack.api, browser, raw)
    key_id = stack.api.authorizer_context("GET", "/v1/entitlements/me", key=raw, source_ip=old.source_ip)["key_id"]
    rotated = browser.post(f"/dashboard/keys/{key_id}/rotate", {"grace_seconds": "3600"}, token_from="/dashboard/keys")
    match = NEW_KEY.search(rotated.body.decode())
    assert rotated.status == 200 and match and match.group(1) != raw
    assert old.call("GET", "/v1/entitlements/me").status == 200  # in its grace hour
    assert api_account(stack.api, browser, match.group(1)).call("GET", "/v1/entitlements/me").status == 200
    assert "in rotation grace" in browser.get("/dashboard/keys").body.decode()
    now_dead = browser.post(f"/dashboard/keys/{key_id}/rotate", {"grace_seconds": "0"}, token_from="/dashboard/keys")
    assert now_dead.status == 200
    assert old.call("GET", "/v1/entitlements/me").status == 401
    too_long = browser.post(
        f"/dashboard/keys/{key_id}/rotate", {"grace_seconds": "999999"}, token_from="/dashboard/keys"
    )
    assert too_long.status in (400, 404)


def test_another_accounts_key_is_not_found(stack: Stack, browser: Browser) -> None:
    other = Browser(stack.api, stack.moto_url)
    other.sign_in()
    _, raw = create_key_on_page(other)
    key_id = stack.api.authorizer_context("GET", "/v1/entitlements/me", key=raw, source_ip="203.0.113.10")["key_id"]
    assert browser.get(f"/dashboard/keys/{key_id}/revoke").status == 404
    assert browser.post(f"/dashboard/keys/{key_id}/revoke", token_from="/dashboard/keys").status == 404
    assert api_account(stack.api, other, raw).call("GET", "/v1/entitlements/me").status == 200


def test_a_suspended_account_changes_nothing(stack: Stack, browser: Browser) -> None:
    change_account(stack.api, session_account_id(browser), status="suspended")
    refused = browser.post("/dashboard/keys", {"name": "x"})
    assert refused.status == 403 and b"suspended" in refused.body
    change_account(stack.api, session_account_id(browser), status="active")
    assert browser.post("/dashboard/keys", {"name": "x"}).status == 200


# ------------------------------------------------------------------ usage and conversions


def test_usage_page_and_csv_count_the_conversions(stack: Stack, browser: Browser) -> None:
    _, raw = create_key_on_page(browser)
    client = api_account(stack.api, browser, raw)
    for _ in range(2):
        assert client.convert(media.sample("png", 16, 16), "jpg").status == 200
    today, month = utcnow().strftime("%Y-%m-%d"), utcnow().strftime("%Y-%m")
    html = browser.get("/dashboard/usage").body.decode()
    assert f'<th scope="row">{today}</th><td>2</td>' in html and f'<th scope="row">{month}</th><td>2</td>' in html
    assert 'role="img"' in html
    csv = browser.get("/dashboard/usage.csv")
    assert csv.headers["content-type"].startswith("text/csv") and "attachment" in csv.headers["content-disposition"]
    lines = csv.body.decode().splitlines()
    assert lines[0] == "period,kind,conversions" and f"{month},month,2" in lines and f"{today},day,2" in lines
    assert browser.get("/dashboard/usage?from=2026-13").status == 400  # the API's own month rule
    overview = browser.get("/dashboard").body.decode()
    assert "2 <span" in overview


def test_conversions_page_lists_jobs_with_progress_and_downloads(stack: Stack, browser: Browser) -> None:
    change_account(stack.api, session_account_id(browser), tier="pro")
    _, raw = create_key_on_page(browser, scopes=["convert:write", "files:read", "files:write"])
    client = api_account(stack.api, browser, raw)
    file = client.upload(media.sample("png", 32, 24), "pic.png")
    job = client.call("POST", "/v1/conversions", json_body={"file_id": file["id"], "target": "webp"}).json()
    queued = browser.get("/dashboard/conversions").body.decode()
    assert job["id"] in queued and "queued" in queued
    if "progress" in job:  # the API's percent, when the conversion service gives one
        assert f'<progress max="100" value="{job["progress"]}"' in queued
    stack.api.run_queue("WorkerFunction")
    done = browser.get("/dashboard/conversions").body.decode()
    assert "succeeded" in done and f"/dashboard/conversions/{job['id']}/download" in done
    download = browser.get(f"/dashboard/conversions/{job['id']}/download")
    assert download.status == 303
    assert requests.get(download.headers["location"], timeout=30).content[8:12] == b"WEBP"
    other = Browser(stack.api, stack.moto_url)
    other.sign_in()
    assert other.get(f"/dashboard/conversions/{job['id']}/download").status == 404


# ------------------------------------------------------------------ webhooks


def test_webhooks_are_a_pro_feature_here_too(browser: Browser) -> None:
    page = browser.get("/dashboard/webhooks")
    assert page.status == 200 and b"part of the pro plan" in page.body
    assert b'class="plan-panel"' in page.body and b'class="error"' not in page.body  # neutral, not an error
    refused = browser.post("/dashboard/webhooks", {"url": "http://127.0.0.1:9/hook"})
    assert refused.status == 403 and b"does not include webhooks" in refused.body


def test_webhook_secret_endpoints_tests_deliveries_and_resend(stack: Stack, browser: Browser) -> None:
    change_account(stack.api, session_account_id(browser), tier="pro")
    created = browser.post("/dashboard/webhooks/secret", token_from="/dashboard/webhooks")
    first = re.search(r'<code id="shown-secret">(whsec_[^<]+)</code>', created.body.decode())
    assert created.status == 200 and first
    assert first.group(1) not in browser.get("/dashboard/webhooks").body.decode()  # a prefix from now on
    revealed = browser.post("/dashboard/webhooks/secret/reveal", token_from="/dashboard/webhooks")
    assert f'<code id="shown-secret">{first.group(1)}</code>' in revealed.body.decode()
    rotated = browser.post("/dashboard/webhooks/secret", token_from="/dashboard/webhooks").body.decode()
    assert first.group(1) not in rotated and "also signs until" in rotated

    bad = browser.post(
        "/dashboard/webhooks", {"url": "https://169.254.169.254/latest", "events": ["conversion.failed"]}
    )
    assert bad.status == 422 and b"not allowed" in bad.body  # the API's own URL policy
    added = browser.post("/dashboard/webhooks", {"url": "http://127.0.0.1:9/hook", "events": ["conversion.failed"]})
    assert added.status == 303
    listing = browser.get("/dashboard/webhooks").body.decode()
    webhook_id = re.search(r"deliveries=(wh_[0-9a-f]+)", listing).group(1)  # type: ignore[union-attr]
    assert "conversion.failed" in listing
    tested = browser.post(f"/dashboard/webhooks/{webhook_id}/test", token_from="/dashboard/webhooks")
    assert tested.status == 303
    deliveries = browser.get(f"/dashboard/webhooks?deliveries={webhook_id}").body.decode()
    delivery_ids = re.findall(r"<code>(dlv_[a-z2-7]+)</code>", deliveries)
    assert "webhook.test" in deliveries and len(delivery_ids) == 1
    resent = browser.post(
        f"/dashboard/webhooks/{webhook_id}/deliveries/{delivery_ids[0]}/resend",
        token_from=f"/dashboard/webhooks?deliveries={webhook_id}",
    )
    assert resent.status == 303
    after = browser.get(f"/dashboard/webhooks?deliveries={webhook_id}").body.decode()
    assert len(re.findall(r"<code>(dlv_[a-z2-7]+)</code>", after)) == 2
    deleted = browser.post(f"/dashboard/webhooks/{webhook_id}/delete", token_from="/dashboard/webhooks")
    assert deleted.status == 303 and "No endpoints yet" in browser.get("/dashboard/webhooks").body.decode()
    actions = [e["action"] for e in _audit(stack, browser) if e["action"].startswith("webhook.")]
    assert actions == [
        "webhook.deleted",
        "webhook.created",
        "webhook.secret_rotated",
        "webhook.secret_revealed",
        "webhook.secret_created",
    ]


# ------------------------------------------------------------------ audit and the account's address


def test_audit_page_lists_the_dashboards_own_changes(stack: Stack, browser: Browser) -> None:
    create_key_on_page(browser)
    html = browser.get("/dashboard/audit").body.decode()
    account = accounts_table.get(session_account_id(browser))
    assert account is not None
    assert "key.created" in html and "session.created" in html and f"session {account.email}" in html
    assert html.index("key.created") < html.index("session.created")  # newest first


def test_a_same_origin_form_post_under_no_referrer_is_accepted(browser: Browser) -> None:
    """What Chromium sends for our own forms (Referrer-Policy: no-referrer): Origin null, same-origin fetch."""
    token = csrf_token(browser.get("/dashboard/keys").body.decode())
    sent = {"Origin": "null", "Sec-Fetch-Site": "same-origin"}
    accepted = browser.request("POST", "/dashboard/keys", {"name": "x", "csrf_token": token}, headers=sent)
    assert accepted.status == 200 and NEW_KEY.search(accepted.body.decode())
