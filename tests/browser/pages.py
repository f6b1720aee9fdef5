"""What the browser tests share: waiting on pages, signing in by keyboard with the mailed code, axe-core's
serious violations, console errors, screenshots for docs/screenshots/, and the API called beside the browser."""

from __future__ import annotations

import io
import re
import time
from typing import Any

import httpx
from PIL import Image
from selenium import webdriver
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from filegate_local.mailbox import messages
from filegate_local.stack import LocalStack
from tests.helpers.local_stack import ROOT

SCREENSHOTS = ROOT / "docs" / "screenshots"
WAIT_SECONDS = 30
CODE_RE = re.compile(r"sign-in code is (\d{6})")
SEVERITIES = ("serious", "critical")


def wait(driver: webdriver.Chrome) -> WebDriverWait[webdriver.Chrome]:
    return WebDriverWait(driver, WAIT_SECONDS)


def wait_for_title(driver: webdriver.Chrome, title: str) -> None:
    wait(driver).until(ec.title_contains(title))


def mail_code(stack: LocalStack, address: str) -> str:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        for mail in reversed(messages(stack.moto_url)):
            if address in mail.to and (match := CODE_RE.search(mail.body)):
                return match.group(1)
        time.sleep(0.2)
    raise AssertionError(f"no sign-in mail to {address}")


def tab_to(driver: webdriver.Chrome, element_id: str, most: int = 15) -> WebElement:
    """Press Tab until the element with this id has the focus (a keyboard user's way to a field)."""
    for _ in range(most):
        active = driver.switch_to.active_element
        if active.get_attribute("id") == element_id:
            return active
        ActionChains(driver).send_keys(Keys.TAB).perform()
    raise AssertionError(f"#{element_id} cannot be reached with Tab")


def console_errors(driver: webdriver.Chrome) -> list[dict[str, Any]]:
    return [entry for entry in driver.get_log("browser") if entry.get("level") == "SEVERE"]


def axe(driver: webdriver.Chrome, source: str) -> list[dict[str, Any]]:
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


def sign_in_by_keyboard(driver: webdriver.Chrome, stack: LocalStack, address: str) -> None:
    driver.delete_all_cookies()
    driver.get(f"{stack.url}/dashboard")
    wait_for_title(driver, "Sign in")  # no session: sent to sign in
    driver.execute_script("document.activeElement.blur(); window.focus();")  # start from the page, not autofocus
    tab_to(driver, "email").send_keys(address, Keys.ENTER)
    wait_for_title(driver, "Check your email")
    code = mail_code(stack, address)
    driver.execute_script("document.activeElement.blur();")
    tab_to(driver, "code").send_keys(code, Keys.ENTER)
    wait_for_title(driver, "Overview")


def api_get(stack: LocalStack, key: str, path: str = "/v1/entitlements/me") -> httpx.Response:
    return httpx.get(f"{stack.url}{path}", headers={"Authorization": f"Bearer {key}"}, timeout=60)


def png() -> bytes:
    out = io.BytesIO()
    Image.radial_gradient("L").resize((64, 64)).save(out, "PNG")
    return out.getvalue()


def shot(driver: webdriver.Chrome, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    assert driver.save_screenshot(str(SCREENSHOTS / f"{name}.png"))


def operator_tables(stack: LocalStack) -> None:
    """Bind the data layer to the stack's tables, as filegate-admin does, for an operator's changes."""
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
