"""The dashboard in a real browser (Chromium through Selenium) against the local stack.

Sign in by keyboard alone with the code from the mail (moto's SES), create a key and see it once, use it,
revoke it and watch the API refuse it on the next call; the session cookie is invisible to script; no page
logs a console error and axe-core finds no serious or critical violation on any page. The main pages are
saved to docs/screenshots/ for the README.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as ec

from filegate_local.stack import LocalStack
from tests.browser.pages import (
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


@pytest.fixture(scope="module")
def address(chrome: webdriver.Chrome, stack: LocalStack) -> str:
    """A signed-in browser (by keyboard, like the first test) for the tests below; its address."""
    signed_in = f"browser-{uuid.uuid4().hex[:10]}@example.com"
    sign_in_by_keyboard(chrome, stack, signed_in)
    return signed_in


def test_the_sign_in_form_works_by_keyboard_alone(chrome: webdriver.Chrome, stack: LocalStack) -> None:
    sign_in_by_keyboard(chrome, stack, f"keyboard-{uuid.uuid4().hex[:10]}@example.com")
    assert chrome.current_url == f"{stack.url}/dashboard"
    assert chrome.find_element(By.CSS_SELECTOR, "nav a[aria-current='page']").text == "Overview"


def test_script_cannot_see_the_session_cookie(chrome: webdriver.Chrome, stack: LocalStack, address: str) -> None:
    assert "fg_session" not in chrome.execute_script("return document.cookie")
    cookie = chrome.get_cookie("__Host-fg_session")
    assert cookie is not None, "the browser kept no session cookie"
    assert cookie["httpOnly"] is True and cookie["secure"] is True and cookie["sameSite"] == "Lax"
    assert cookie["path"] == "/" and "expiry" not in cookie  # a session cookie: no Max-Age


def test_a_key_is_shown_once_and_dies_on_the_next_call_after_revoke(
    chrome: webdriver.Chrome, stack: LocalStack, address: str
) -> None:
    chrome.get(f"{stack.url}/dashboard/keys")
    chrome.find_element(By.ID, "key-name").send_keys("laptop")
    chrome.find_element(By.CSS_SELECTOR, "form[action$='/dashboard/keys'] button[type=submit]").click()
    wait(chrome).until(ec.presence_of_element_located((By.ID, "new-key")))
    raw = chrome.find_element(By.ID, "new-key").text
    assert re.fullmatch(r"fg_live_[a-z2-7]{39}", raw)
    copy = chrome.find_element(By.CSS_SELECTOR, "button[data-copy='new-key']")
    assert copy.is_displayed()  # the vendored script un-hid it
    copy.click()
    wait(chrome).until(ec.text_to_be_present_in_element((By.ID, "copy-status"), "Copied"))
    shot(chrome, "keys-new-key")

    assert api_get(stack, raw).status_code == 200
    for _ in range(3):  # some usage for the charts (and the screenshots)
        converted = httpx.post(
            f"{stack.url}/v1/convert",
            headers={"Authorization": f"Bearer {raw}"},
            files={"file": ("gradient.png", png())},
            data={"target": "webp"},
            timeout=60,
        )
        assert converted.status_code == 200, converted.text

    chrome.get(f"{stack.url}/dashboard/keys")
    assert raw not in chrome.page_source and raw[:12] in chrome.page_source  # shown once, the prefix after
    row = chrome.find_element(By.XPATH, "//tr[th[normalize-space()='laptop']]")
    row.find_element(By.PARTIAL_LINK_TEXT, "Revoke").click()
    wait_for_title(chrome, "Revoke a key")
    assert api_get(stack, raw).status_code == 200  # asking is not revoking
    chrome.find_element(By.XPATH, "//button[normalize-space()='Revoke the key']").click()
    wait(chrome).until(ec.url_contains("done=revoked"))
    refused = api_get(stack, raw)
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "invalid_api_key"


def _pro(stack: LocalStack, chrome: webdriver.Chrome) -> None:
    """Make the signed-in account pro (as an operator, through the keys service) so webhooks show."""
    chrome.get(f"{stack.url}/dashboard/keys")
    chrome.find_element(By.ID, "key-name").send_keys("operator-lookup")
    chrome.find_element(By.CSS_SELECTOR, "form[action$='/dashboard/keys'] button[type=submit]").click()
    raw = wait(chrome).until(ec.presence_of_element_located((By.ID, "new-key"))).text
    account_id = api_get(stack, raw).json()["account_id"]
    from datetime import timedelta

    from filegate.accounts import service as account_service
    from filegate.clock import utcnow

    operator_tables(stack)
    account_service.set_account_tier(account_id, "pro", now=utcnow(), horizon=timedelta(hours=1))


def test_every_page_without_console_errors_or_serious_axe_violations(
    chrome: webdriver.Chrome, stack: LocalStack, address: str, axe_source: str
) -> None:
    _pro(stack, chrome)
    chrome.get(f"{stack.url}/dashboard/webhooks")
    chrome.find_element(By.XPATH, "//button[normalize-space()='Create a signing secret']").click()
    wait(chrome).until(ec.presence_of_element_located((By.ID, "shown-secret")))
    chrome.find_element(By.ID, "webhook-url").send_keys("http://127.0.0.1:9/filegate")
    chrome.find_element(By.XPATH, "//button[normalize-space()='Add endpoint']").click()
    wait(chrome).until(ec.url_contains("done=webhook-added"))
    chrome.find_element(By.XPATH, "//button[starts-with(normalize-space(), 'Send a test')]").click()
    wait(chrome).until(ec.url_contains("done=test-sent"))

    pages = {
        "overview": "/dashboard",
        "keys": "/dashboard/keys",
        "usage": "/dashboard/usage",
        "conversions": "/dashboard/conversions",
        "webhooks": chrome.current_url.removeprefix(stack.url),
        "audit": "/dashboard/audit",
        "sessions": "/dashboard/sessions",
    }
    chrome.get_log("browser")  # what came before is not this test's
    problems: dict[str, Any] = {}
    for name, path in pages.items():
        chrome.get(f"{stack.url}{path}")
        wait(chrome).until(ec.presence_of_element_located((By.TAG_NAME, "h1")))
        shot(chrome, name)
        errors = console_errors(chrome)
        violations = axe(chrome, axe_source)
        if errors or violations:
            problems[name] = {"console": errors, "axe": violations}
    # The revoke confirmation and the sign-in pages, signed out (the session ends for good).
    chrome.get(f"{stack.url}/dashboard/keys")
    chrome.find_element(By.PARTIAL_LINK_TEXT, "Revoke").click()
    wait_for_title(chrome, "Revoke a key")
    for name in ("revoke", "sign-out"):
        if name == "sign-out":
            chrome.find_element(By.XPATH, "//button[normalize-space()='Sign out']").click()
            wait_for_title(chrome, "Sign in")
            shot(chrome, "sign-in")
        errors, violations = console_errors(chrome), axe(chrome, axe_source)
        if errors or violations:
            problems[name] = {"console": errors, "axe": violations}
    chrome.find_element(By.ID, "email").send_keys(address, Keys.ENTER)
    wait_for_title(chrome, "Check your email")
    errors, violations = console_errors(chrome), axe(chrome, axe_source)
    if errors or violations:
        problems["check-your-email"] = {"console": errors, "axe": violations}
    chrome.get(f"{stack.url}/dashboard/login/confirm?token=not-a-real-token")
    errors, violations = console_errors(chrome), axe(chrome, axe_source)
    if errors or violations:
        problems["confirm"] = {"console": errors, "axe": violations}
    assert not problems, problems
