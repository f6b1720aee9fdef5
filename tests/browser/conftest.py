"""Browser fixtures: one local stack on free ports, and Debian's Chromium driven by Selenium (chromedriver).

- `stack`: as in tests/integration (its starter is reused), the dashboard served at `stack.url`.
- `chrome`: a headless Chromium with a fresh profile, its console log readable (`goog:loggingPrefs`) and
  the clipboard allowed for the stack's origin (the copy button). Quit at the end of the session.
- `axe_source`: axe-core's script from the project's `.browser/` folder, which `make browser` fills with npm.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from filegate_local.stack import LocalStack
from tests.helpers.local_stack import ROOT, aws_pointed_at, running_stack

AXE = ROOT / ".browser" / "node_modules" / "axe-core" / "axe.min.js"
# Flags that work on these machines (no GPU, no sandbox as root, nothing phoning home).
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,1000",
)


def _binary(*names: str) -> str:
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    raise RuntimeError(f"none of {names} is installed: `make browser` installs chromium and chromium-driver")


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with (
        running_stack(tmp_path_factory.mktemp("browser-stack"), workers_per_function=2) as local,
        aws_pointed_at(local),
    ):
        yield local


@pytest.fixture(scope="session")
def chrome(stack: LocalStack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[webdriver.Chrome]:
    options = webdriver.ChromeOptions()
    options.binary_location = _binary("chromium", "chromium-browser")
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=_binary("chromedriver")))
    try:
        driver.set_page_load_timeout(60)
        driver.execute_cdp_cmd(
            "Browser.grantPermissions",
            {"origin": stack.url, "permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"]},
        )
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="session")
def axe_source() -> str:
    if not AXE.is_file():
        raise RuntimeError(f"{AXE} is missing: `make browser` installs axe-core with npm")
    return AXE.read_text(encoding="utf-8")
