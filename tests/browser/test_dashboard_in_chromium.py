"""The dashboard in a real browser (Chromium through Selenium) against the local stack.

Sign in by keyboard alone with the code from the mail (moto's SES), create a key and see it once, use it,
revoke it and watch the API refuse it on the next call; the session cookie is invisible to script; no page
logs a console error and axe-core finds no serious or critical violation on any page. The main pages are
saved to docs/screenshots/ for the README.
"""

from __future__ import annotations

import io
import re
import time
import uuid
from typing import Any

import httpx
import pytest
from PIL import Image
from selenium import webdriver
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from filegate_local import LocalStack
from filegate_local.mailbox import messages
from tests.browser.conftest import SCREENSHOTS

WAIT_SECONDS = 30
CODE_RE = re.compile(r"sign-in code is (\d{6})")
SEVERITIES = ("serious", "critical")


def _wait(driver: webdriver.Chrome) -> WebDriverWait[webdriver.Chrome]:
    return WebDriverWait(driver, WAIT_SECONDS)


def _wait_for_title(driver: webdriver.Chrome, title: str) -> None:
    _wait(driver).until(ec.title_contains(title))


def _mail_code(stack: LocalStack, address: str) -> str:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        for mail in reversed(messages(stack.moto_url)):
            if address in mail.to and (match := CODE_RE.search(mail.body)):
                return match.group(1)
        time.sleep(0.2)
    raise AssertionError(f"no sign-in mail to {address}")


def _tab_to(driver: webdriver.Chrome, element_id: str, most: int = 15) -> WebElement:
    """Press Tab until the element with this id has the focus (a keyboard user's way to a field)."""
    for _ in range(most):
        active = driver.switch_to.active_element
        if active.get_attribute("id") == element_id:
            return active
        ActionChains(driver).send_keys(Keys.TAB).perform()
    raise AssertionError(f"#{element_id} cannot be reached with Tab")


def _console_errors(driver: webdriver.Chrome) -> list[dict[str, Any]]:
    return [entry for entry in driver.get_log("browser") if entry.get("level") == "SEVERE"]


def _axe(driver: webdriver.Chrome, source: str) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations on the current page (injected through the driver: the
    page's CSP, which allows no injected script, stays as it is)."""
    driver.execute_script(source)
    result = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {resultTypes: ['violations']})"
        ".then(r => done(r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,"
        " nodes: v.nodes.map(n => n.target.join(' '))}))))"
        ".catch(e => done([{id: 'axe-error', impact: 'critical', help: String(e), nodes: []}]));"
    )
    return [v for v in result if v.get("impact") in SEVERITIES]


def _sign_in_by_keyboard(driver: webdriver.Chrome, stack: LocalStack, address: str) -> None:
    driver.delete_all_cookies()
    driver.get(f"{stack.url}/dashboard")
    _wait_for_title(driver, "Sign in")  # no session: sent to sign in
    driver.execute_script("document.activeElement.blur(); window.focus();")  # start from the page, not autofocus
    _tab_to(driver, "email").send_keys(address, Keys.ENTER)
    _wait_for_title(driver, "Check your email")
    code = _mail_code(stack, address)
    driver.execute_script("document.activeElement.blur();")
    _tab_to(driver, "code").send_keys(code, Keys.ENTER)
    _wait_for_title(driver, "Overview")


def _api(stack: LocalStack, key: str, path: str = "/v1/entitlements/me") -> httpx.Response:
    return httpx.get(f"{stack.url}{path}", headers={"Authorization": f"Bearer {key}"}, timeout=60)


def _png() -> bytes:
    out = io.BytesIO()
    Image.radial_gradient("L").resize((64, 64)).save(out, "PNG")
    return out.getvalue()


def _shot(driver: webdriver.Chrome, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    assert driver.save_screenshot(str(SCREENSHOTS / f"{name}.png"))


@pytest.fixture(scope="module")
def address(chrome: webdriver.Chrome, stack: LocalStack) -> str:
    """A signed-in browser (by keyboard, like the first test) for the tests below; its address."""
    signed_in = f"browser-{uuid.uuid4().hex[:10]}@example.com"
    _sign_in_by_keyboard(chrome, stack, signed_in)
    return signed_in


def test_the_sign_in_form_works_by_keyboard_alone(chrome: webdriver.Chrome, stack: LocalStack) -> None:
    _sign_in_by_keyboard(chrome, stack, f"keyboard-{uuid.uuid4().hex[:10]}@example.com")
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
    _wait(chrome).until(ec.presence_of_element_located((By.ID, "new-key")))
    raw = chrome.find_element(By.ID, "new-key").text
    assert re.fullmatch(r"fg_live_[a-z2-7]{39}", raw)
    copy = chrome.find_element(By.CSS_SELECTOR, "button[data-copy='new-key']")
    assert copy.is_displayed()  # the vendored script un-hid it
    copy.click()
    _wait(chrome).until(ec.text_to_be_present_in_element((By.ID, "copy-status"), "Copied"))
    _shot(chrome, "keys-new-key")

    assert _api(stack, raw).status_code == 200
    for _ in range(3):  # some usage for the charts (and the screenshots)
        converted = httpx.post(
            f"{stack.url}/v1/convert",
            headers={"Authorization": f"Bearer {raw}"},
            files={"file": ("gradient.png", _png())},
            data={"target": "webp"},
            timeout=60,
        )
        assert converted.status_code == 200, converted.text

    chrome.get(f"{stack.url}/dashboard/keys")
    assert raw not in chrome.page_source and raw[:12] in chrome.page_source  # shown once, the prefix after
    row = chrome.find_element(By.XPATH, "//tr[th[normalize-space()='laptop']]")
    row.find_element(By.PARTIAL_LINK_TEXT, "Revoke").click()
    _wait_for_title(chrome, "Revoke a key")
    assert _api(stack, raw).status_code == 200  # asking is not revoking
    chrome.find_element(By.XPATH, "//button[normalize-space()='Revoke the key']").click()
    _wait(chrome).until(ec.url_contains("done=revoked"))
    refused = _api(stack, raw)
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "invalid_api_key"


def _pro(stack: LocalStack, chrome: webdriver.Chrome) -> None:
    """Make the signed-in account pro (as an operator, through the keys service) so webhooks show."""
    chrome.get(f"{stack.url}/dashboard/keys")
    chrome.find_element(By.ID, "key-name").send_keys("operator-lookup")
    chrome.find_element(By.CSS_SELECTOR, "form[action$='/dashboard/keys'] button[type=submit]").click()
    raw = _wait(chrome).until(ec.presence_of_element_located((By.ID, "new-key"))).text
    account_id = _api(stack, raw).json()["account_id"]
    from datetime import timedelta

    from filegate.accounts import service as account_service
    from filegate.clock import utcnow
    from filegate.db import bind_tables
    from filegate.settings import KeysSettings

    outputs = stack.state["outputs"]
    bind_tables(
        KeysSettings(
            aws_region=stack.state["region"],
            accounts_table=outputs["AccountsTableName"],
            keys_table=outputs["KeysTableName"],
            counters_table=outputs["CountersTableName"],
            emails_table=outputs["EmailsTableName"],
            audit_table=outputs["AuditTableName"],
        )
    )
    account_service.set_account_tier(account_id, "pro", now=utcnow(), horizon=timedelta(hours=1))


def test_every_page_without_console_errors_or_serious_axe_violations(
    chrome: webdriver.Chrome, stack: LocalStack, address: str, axe_source: str
) -> None:
    _pro(stack, chrome)
    chrome.get(f"{stack.url}/dashboard/webhooks")
    chrome.find_element(By.XPATH, "//button[normalize-space()='Create a signing secret']").click()
    _wait(chrome).until(ec.presence_of_element_located((By.ID, "shown-secret")))
    chrome.find_element(By.ID, "webhook-url").send_keys("http://127.0.0.1:9/filegate")
    chrome.find_element(By.XPATH, "//button[normalize-space()='Add endpoint']").click()
    _wait(chrome).until(ec.url_contains("done=webhook-added"))
    chrome.find_element(By.XPATH, "//button[starts-with(normalize-space(), 'Send a test')]").click()
    _wait(chrome).until(ec.url_contains("done=test-sent"))

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
        _wait(chrome).until(ec.presence_of_element_located((By.TAG_NAME, "h1")))
        _shot(chrome, name)
        errors = _console_errors(chrome)
        violations = _axe(chrome, axe_source)
        if errors or violations:
            problems[name] = {"console": errors, "axe": violations}
    # The revoke confirmation and the sign-in pages, signed out (the session ends for good).
    chrome.get(f"{stack.url}/dashboard/keys")
    chrome.find_element(By.PARTIAL_LINK_TEXT, "Revoke").click()
    _wait_for_title(chrome, "Revoke a key")
    for name in ("revoke", "sign-out"):
        if name == "sign-out":
            chrome.find_element(By.XPATH, "//button[normalize-space()='Sign out']").click()
            _wait_for_title(chrome, "Sign in")
            _shot(chrome, "sign-in")
        errors, violations = _console_errors(chrome), _axe(chrome, axe_source)
        if errors or violations:
            problems[name] = {"console": errors, "axe": violations}
    chrome.find_element(By.ID, "email").send_keys(address, Keys.ENTER)
    _wait_for_title(chrome, "Check your email")
    errors, violations = _console_errors(chrome), _axe(chrome, axe_source)
    if errors or violations:
        problems["check-your-email"] = {"console": errors, "axe": violations}
    chrome.get(f"{stack.url}/dashboard/login/confirm?token=not-a-real-token")
    errors, violations = _console_errors(chrome), _axe(chrome, axe_source)
    if errors or violations:
        problems["confirm"] = {"console": errors, "axe": violations}
    assert not problems, problems
