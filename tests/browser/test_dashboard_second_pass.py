"""The dashboard's second pass in Chromium (issue 26) against the local stack.

A key is driven through requests of every outcome over real HTTP; its activity, rolled up from the
functions' logs by the local stack's log subscription, appears on the key's own page and in the API. Every
page is checked at 390 and 1280 pixels wide: nothing scrolls sideways at 390, axe-core finds no serious or
critical violation at either width, and the screenshots in docs/screenshots/ are refreshed at both sizes.
"""

from __future__ import annotations

import time
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec

from filegate_local.stack import LocalStack
from tests.browser.pages import (
    WAIT_SECONDS,
    api_get,
    axe,
    console_errors,
    operator_tables,
    png,
    shot,
    sign_in_by_keyboard,
    wait,
    wait_for_title,
)

PHONE, DESKTOP = (390, 900), (1280, 1000)
OUTCOMES = ("succeeded", "client_errors", "refused", "rate_limited", "quota_exceeded")
LEGEND = {
    "succeeded": "succeeded",
    "client_errors": "client errors",
    "refused": "refused (401/403)",
    "rate_limited": "rate limited",
    "quota_exceeded": "over quota",
}


def _new_key(chrome: webdriver.Chrome, stack: LocalStack, name: str, scopes: tuple[str, ...]) -> str:
    chrome.get(f"{stack.url}/dashboard/keys")
    chrome.find_element(By.ID, "key-name").send_keys(name)
    for box in chrome.find_elements(By.CSS_SELECTOR, "input[name='scopes']"):
        if box.is_selected() != (box.get_attribute("value") in scopes):
            box.click()
    chrome.find_element(By.CSS_SELECTOR, "form[action$='/dashboard/keys'] button[type=submit]").click()
    return str(wait(chrome).until(ec.presence_of_element_located((By.ID, "new-key"))).text)


def _key_page(chrome: webdriver.Chrome, stack: LocalStack, name: str) -> str:
    """The path of a key's own page, from its name's link on the keys page."""
    chrome.get(f"{stack.url}/dashboard/keys")
    href = chrome.find_element(By.XPATH, f"//tr/th/a[normalize-space()='{name}']").get_attribute("href")
    assert href, f"no link to key {name}'s page"
    return href.removeprefix(stack.url)


def _drive_every_outcome(stack: LocalStack, key: str, account_id: str) -> dict[str, int]:
    """Requests of each outcome with one key; what the API answered, by outcome."""
    from filegate.clock import month_key, utcnow
    from filegate.db import counters
    from filegate.metering import limits

    seen = dict.fromkeys(OUTCOMES, 0)

    def expect(response: httpx.Response, status: int, outcome: str) -> None:
        assert response.status_code == status, response.text
        seen[outcome] += 1

    headers = {"Authorization": f"Bearer {key}"}
    expect(api_get(stack, key), 200, "succeeded")
    expect(api_get(stack, key, "/v1/conversions/conv_nothere"), 404, "client_errors")
    expect(api_get(stack, key, "/v1/keys"), 403, "refused")  # a scope this key lacks
    now = utcnow()  # the month at the free quota, as 1,000 conversions would leave it
    counters.increment(limits._month_counter(account_id, month_key(now)), by=1000, expires_at=now + timedelta(days=40))
    quota = httpx.post(
        f"{stack.url}/v1/convert",
        headers=headers,
        files={"file": ("g.png", png())},
        data={"target": "webp"},
        timeout=60,
    )
    expect(quota, 429, "quota_exceeded")
    for _ in range(25):  # the free tier's ten a minute: asked until refused, whichever minute this is
        answer = api_get(stack, key)
        seen["succeeded" if answer.status_code == 200 else "rate_limited"] += 1
        if answer.status_code == 429:
            assert answer.json()["error"]["code"] == "rate_limited"
            break
    assert seen["rate_limited"] == 1
    return seen


def _totals(body: dict[str, Any]) -> dict[str, int]:
    return {name: sum(int(bucket[name]) for bucket in body["data"]) for name in ("requests", *OUTCOMES)}


def _no_sideways_scroll(chrome: webdriver.Chrome) -> int:
    """How far the page is wider than the window (0: no page-level horizontal scroll)."""
    return int(chrome.execute_script("return document.documentElement.scrollWidth - window.innerWidth"))


@pytest.fixture(scope="module")
def signed_in(chrome: webdriver.Chrome, stack: LocalStack) -> str:
    address = f"second-{uuid.uuid4().hex[:10]}@example.com"
    chrome.set_window_size(*DESKTOP)
    sign_in_by_keyboard(chrome, stack, address)
    return address


def test_a_new_account_is_guided_to_its_first_key(chrome: webdriver.Chrome, stack: LocalStack, signed_in: str) -> None:
    chrome.get(f"{stack.url}/dashboard")
    start = chrome.find_element(By.CSS_SELECTOR, "section.start")
    assert "Create your first API key" in start.text and "filegate convert" in start.text
    shot(chrome, "overview-new-account")
    chrome.get(f"{stack.url}/dashboard/webhooks")  # free meets a pro feature: a neutral panel, no error
    assert chrome.find_element(By.CSS_SELECTOR, "section.plan-panel").is_displayed()
    assert not chrome.find_elements(By.CSS_SELECTOR, ".error")
    shot(chrome, "webhooks-free")
    raw = _new_key(chrome, stack, "first", ("convert:write", "files:read", "files:write"))
    curl = chrome.find_element(By.ID, "try-curl").text
    assert f"Bearer {raw}" in curl and curl.startswith(f"curl -X POST {stack.url}/v1/convert")
    assert chrome.find_element(By.CSS_SELECTOR, "button[data-copy='try-curl']").is_displayed()
    chrome.get(f"{stack.url}/dashboard")
    assert not chrome.find_elements(By.CSS_SELECTOR, "section.start")


def test_a_keys_requests_of_every_outcome_show_on_its_page_and_in_the_api(
    chrome: webdriver.Chrome, stack: LocalStack, signed_in: str
) -> None:
    operator_tables(stack)
    manager = _new_key(chrome, stack, "manager", ("keys:manage",))
    account_id = api_get(stack, manager).json()["account_id"]
    raw = _new_key(chrome, stack, "driven", ("convert:write", "files:read"))
    key_id = _key_page(chrome, stack, "driven").rsplit("/", 1)[1]
    seen = _drive_every_outcome(stack, raw, account_id)

    # Counted within a minute (the local stack hands log lines on within a second): the key's page shows it.
    deadline = time.monotonic() + 60
    legend = ""
    wanted = [f"{LEGEND[name]}: {seen[name]}" for name in OUTCOMES]
    while time.monotonic() < deadline:
        chrome.get(f"{stack.url}/dashboard/keys/{key_id}?range=24h")
        legend = chrome.find_element(By.CSS_SELECTOR, "ul.legend").text
        if all(line in legend for line in wanted):
            break
        time.sleep(0.5)
    assert all(line in legend for line in wanted), (legend, seen)
    shot(chrome, "key-activity")

    from filegate.accounts import service as account_service
    from filegate.clock import utcnow

    account_service.set_account_tier(account_id, "pro", now=utcnow(), horizon=timedelta(hours=1))  # room to ask
    body = api_get(stack, manager, f"/v1/keys/{key_id}/activity").json()
    totals = _totals(body)
    assert {name: totals[name] for name in OUTCOMES} == seen and totals["requests"] == sum(seen.values())
    assert body["last_used_at"] and body["last_used_ip"] == "127.0.0.1"


PAGES = {
    "overview": "/dashboard",
    "keys": "/dashboard/keys",
    "usage": "/dashboard/usage",
    "conversions": "/dashboard/conversions",
    "webhooks": "/dashboard/webhooks",
    "audit": "/dashboard/audit",
    "sessions": "/dashboard/sessions",
}


def test_no_page_scrolls_sideways_on_a_phone_and_axe_is_clean_at_both_widths(
    chrome: webdriver.Chrome, stack: LocalStack, signed_in: str, axe_source: str
) -> None:
    # A fresh account with a little use, for the screenshots (the account above sits at its quota).
    sign_in_by_keyboard(chrome, stack, f"phone-{uuid.uuid4().hex[:10]}@example.com")
    raw = _new_key(chrome, stack, "phone", ("convert:write", "files:read", "files:write"))
    for _ in range(3):
        converted = httpx.post(
            f"{stack.url}/v1/convert",
            headers={"Authorization": f"Bearer {raw}"},
            files={"file": ("a-rather-long-file-name-for-a-phone-screen.png", png())},
            data={"target": "webp"},
            timeout=60,
        )
        assert converted.status_code == 200, converted.text
    pages = {**PAGES, "key-activity": _key_page(chrome, stack, "phone"), "not-found": "/dashboard/no-such-page"}
    deadline = time.monotonic() + 60  # the key's page once its requests are rolled up (within a minute)
    while "succeeded: 3" not in chrome.page_source and time.monotonic() < deadline:
        chrome.get(f"{stack.url}{pages['key-activity']}")
    problems: dict[str, Any] = {}
    try:
        for width, height in (PHONE, DESKTOP):
            chrome.set_window_size(width, height)
            for name, path in pages.items():
                chrome.get(f"{stack.url}{path}")
                wait(chrome).until(ec.presence_of_element_located((By.TAG_NAME, "h1")))
                chrome.get_log("browser")
                overflow = _no_sideways_scroll(chrome) if width == PHONE[0] else 0
                violations = axe(chrome, axe_source)
                errors = console_errors(chrome)
                if overflow > 0 or violations or errors:
                    problems[f"{name}@{width}"] = {"overflow": overflow, "axe": violations, "console": errors}
                if width == PHONE[0]:  # the desktop shots of the main pages are test_dashboard_in_chromium's
                    chrome.execute_script("document.querySelector('svg.chart')?.scrollIntoView({block: 'center'})")
                    shot(chrome, f"{name}-390")
                elif name in ("key-activity", "not-found"):
                    shot(chrome, name)
    finally:
        chrome.set_window_size(*DESKTOP)
    assert not problems, problems


def test_the_dashboards_own_404_page(chrome: webdriver.Chrome, stack: LocalStack, signed_in: str) -> None:
    answer = httpx.get(f"{stack.url}/dashboard/no-such-page", timeout=WAIT_SECONDS)
    assert answer.status_code == 404 and answer.headers["content-type"].startswith("text/html")
    assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
    chrome.get(f"{stack.url}/dashboard/no-such-page")
    wait_for_title(chrome, "Not found")
    assert chrome.find_element(By.LINK_TEXT, "Back to the dashboard")
