"""The dashboard's second pass (issue 26): a key's own page of activity by outcome, sparklines on the keys
page, a new account's first steps, the neutral pro panel, the dashboard's own 404 page, usage over every day.
"""

from __future__ import annotations

import re

import pytest

from filegate_local.log_subscriptions import matcher, subscription_event
from tests.helpers import media_samples as media
from tests.service.conftest import Stack
from tests.service.dashboard_client import Browser, api_account, assert_security_headers, create_key_on_page
from tests.service.helpers import assert_error

PATTERN = '{ $.activity.outcome = "*" }'


@pytest.fixture
def browser(stack: Stack) -> Browser:
    signed_in = Browser(stack.api, stack.moto_url)
    signed_in.sign_in()
    return signed_in


def _key_id(browser: Browser, name: str) -> str:
    listing = browser.get("/dashboard/keys").body.decode()
    found = re.search(r'href="/dashboard/keys/(key_[a-z0-9]+)">' + re.escape(name) + "<", listing)
    assert found, f"no link to the page of key {name}"
    return found.group(1)


def _roll_up(stack: Stack, out: str) -> None:
    lines = [line for line in out.splitlines() if matcher(PATTERN)(line)]
    stack.functions.invoke("ActivityFunction", subscription_event("/aws/lambda/test", [(0, li) for li in lines]))


def test_a_new_account_is_shown_how_to_start_until_it_has_a_key(browser: Browser) -> None:
    first = browser.get("/dashboard").body.decode()
    assert "Create your first API key" in first and 'href="/dashboard/keys#create-h"' in first
    assert "$FILEGATE_API_KEY" in first and "/v1/convert" in first and "filegate convert" in first
    create_key_on_page(browser, name="first")
    created = browser.post("/dashboard/keys", {"name": "second", "scopes": ["convert:write"]}).body.decode()
    shown = re.search(r'<code id="new-key">([^<]+)</code>', created)
    assert shown and f"Bearer {shown.group(1)}" in created and f"FILEGATE_API_KEY={shown.group(1)}" in created
    assert 'data-copy="try-curl"' in created and 'data-copy="try-cli"' in created
    assert "Create your first API key" not in browser.get("/dashboard").body.decode()


def test_a_keys_own_page_shows_its_requests_by_outcome(
    stack: Stack, browser: Browser, capsys: pytest.CaptureFixture[str]
) -> None:
    _, raw = create_key_on_page(browser, name="busy")
    client = api_account(stack.api, browser, raw)
    assert client.call("GET", "/v1/entitlements/me").status == 200
    assert client.convert(media.sample("png", 16, 12), "jpg").status == 200
    assert_error(client.call("GET", "/v1/conversions/conv_nothere"), 404, "not_found")
    assert_error(client.call("GET", "/v1/webhooks"), 403, "insufficient_scope")  # not among its scopes
    _roll_up(stack, capsys.readouterr().out)

    key_id = _key_id(browser, "busy")
    for chosen in ("24h", "7d", "30d"):
        page = browser.get(f"/dashboard/keys/{key_id}?range={chosen}")
        assert page.status == 200, page
        html = page.body.decode()
        assert 'aria-current="page">' in html and 'role="img"' in html
        assert "succeeded: 2" in html and "client errors: 1" in html and "refused (401/403): 1" in html
        assert "rate limited: 0" in html and "over quota: 0" in html
        assert "1 <span" in html  # one conversion, one unit
        assert client.source_ip in html  # where it was last used from
    day = browser.get(f"/dashboard/keys/{key_id}?range=24h").body.decode()
    assert day.count('<g class="period">') in (24, 25)  # every hour the last day touches, empty ones too
    listing = browser.get("/dashboard/keys").body.decode()
    assert 'class="spark"' in listing and "4 requests in the last 7 days" in listing


def test_a_key_with_no_requests_says_so(browser: Browser) -> None:
    create_key_on_page(browser, name="quiet")
    html = browser.get(f"/dashboard/keys/{_key_id(browser, 'quiet')}?range=7d").body.decode()
    assert "No requests with this key in the last 7 days." in html and "never" in html


def test_another_accounts_key_page_is_not_found(stack: Stack, browser: Browser) -> None:
    other = Browser(stack.api, stack.moto_url)
    other.sign_in()
    create_key_on_page(other, name="theirs")
    theirs = _key_id(other, "theirs")
    page = browser.get(f"/dashboard/keys/{theirs}")
    assert page.status == 404 and b"<html" in page.body


def test_an_unknown_dashboard_path_is_an_html_404_with_the_same_headers(browser: Browser) -> None:
    for path in ("/dashboard/nothing-here", "/dashboard/keys/key_x/nothing", "/dashboard/static/../x"):
        page = browser.get(path)
        assert page.status == 404, (path, page)
        assert page.headers["content-type"].startswith("text/html") and b"There is no such page." in page.body
        assert_security_headers(page)


def test_the_usage_chart_has_a_bar_slot_for_every_day(stack: Stack, browser: Browser) -> None:
    _, raw = create_key_on_page(browser)
    assert api_account(stack.api, browser, raw).convert(media.sample("png", 16, 16), "jpg").status == 200
    html = browser.get("/dashboard/usage").body.decode()
    days_chart = html[html.index('id="days-title"') :]
    days_chart = days_chart[: days_chart.index("</svg>")]
    assert days_chart.count('<g class="period">') >= 28  # every day since the first month shown, not one block
    assert days_chart.count('<rect class="bar s-conv"') == 1


def test_the_favicon_is_served_and_linked(browser: Browser) -> None:
    icon = browser.get("/dashboard/static/favicon.svg")
    assert icon.status == 200 and icon.headers["content-type"].startswith("image/svg+xml")
    assert b'rel="icon" href="/dashboard/static/favicon.svg"' in browser.get("/dashboard").body


def test_conversions_show_file_formats_sizes_units_duration_and_where_a_sync_output_went(
    stack: Stack, browser: Browser
) -> None:
    from filegate.clock import utcnow
    from filegate.dashboard.conversion_rows import human_bytes

    _, raw = create_key_on_page(browser, scopes=["convert:write", "files:read", "files:write"])
    client = api_account(stack.api, browser, raw)
    png = media.sample("png", 32, 24)
    assert client.convert(png, "jpg", filename="holiday.png").status == 200
    upload = client.upload(media.sample("png", 40, 30), "scan.png")
    job = client.call("POST", "/v1/conversions", json_body={"file_id": upload["id"], "target": "webp"}).json()
    stack.api.run_queue("WorkerFunction")
    unknown = b"\x00\x01\x02\xff\xfe not text, not any format" * 4  # text would be a document now
    assert_error(client.convert(unknown, "jpg", filename="blob.bin"), 415, "unsupported_media_type")

    html = browser.get("/dashboard/conversions").body.decode()
    rows = {name: html[html.index(f">{name}<") :].split("</tr>", 1)[0] for name in ("holiday.png", "scan.png")}
    sync = rows["holiday.png"]
    assert "png → jpg" in sync and f"{human_bytes(len(png))} →" in sync and "returned in the response" in sync
    assert "<td>1</td>" in sync and " s</td>" in sync and "succeeded" in sync
    queued = rows["scan.png"]
    assert "png → webp" in queued and f"{human_bytes(upload['size'])} → " in queued and "→ —" not in queued
    assert f"/dashboard/conversions/{job['id']}/download" in queued
    assert utcnow().strftime("%Y-%m-%d") in html


def test_conversions_name_a_merge_by_its_inputs_and_show_the_pdf_tools_applied(stack: Stack, browser: Browser) -> None:
    from tests.helpers import pdf_samples as ps

    _, raw = create_key_on_page(browser, scopes=["convert:write", "files:read", "files:write"])
    client = api_account(stack.api, browser, raw)
    tooled = client.convert(ps.text_pdf(2), "pdf", filename="report.pdf", pages="2,1", rotate="90")
    assert tooled.status == 200, tooled
    ids = [client.upload(ps.text_pdf(1), f"part{n}.pdf")["id"] for n in range(3)]
    job = client.call("POST", "/v1/conversions", json_body={"file_ids": ids, "target": "pdf"}).json()
    stack.api.run_queue("DocumentsFunction")

    html = browser.get("/dashboard/conversions").body.decode()
    tools = html[html.index(">report.pdf<") :].split("</tr>", 1)[0]
    assert "pdf → pdf" in tools and "pages, rotated" in tools and "OCR" not in tools
    merged = html[html.index(">part0.pdf and 2 more<") :].split("</tr>", 1)[0]
    assert "3 files → pdf" in merged and f"/dashboard/conversions/{job['id']}/download" in merged
    assert "<td>3</td>" in merged  # a unit per input
