"""The smoke walk-through's target: any FileGate stack, deployed or local (docs/deploy.md "Smoke test").

- ``BASE_URL``: the API's base URL (the stack's ``ApiUrl`` output, or ``http://127.0.0.1:3000`` for
  ``make dev``). Without it every test here is skipped.
- ``ADMIN_ENV``: how ``filegate-admin`` reaches the stack, to make the smoke account and close it at the end:
  ``local`` (the running local stack; ``ADMIN_STATE_DIR`` names its state dir when not ``.local-stack``), or a
  samconfig.toml environment (``dev``, ``prod``) with AWS credentials in the environment.
- ``SMOKE_WEBHOOK_URL``: an https receiver the deployed stack can reach, for the webhook step (a loopback
  ``BASE_URL`` gets a receiver on 127.0.0.1 instead); without either, that step is skipped.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT / "infra") not in sys.path:
    sys.path.insert(0, str(ROOT / "infra"))

from tests.e2e.smoke import Smoke, admin_arguments  # noqa: E402


@pytest.fixture(scope="session")
def smoke() -> Iterator[Smoke]:
    base_url = os.environ.get("BASE_URL", "")
    if not base_url:
        pytest.skip("BASE_URL is not set: make smoke BASE_URL=https://… ADMIN_ENV=dev|prod|local")
    admin = admin_arguments(os.environ.get("ADMIN_ENV", ""), os.environ.get("ADMIN_STATE_DIR", ""))
    session = Smoke.start(base_url, admin)
    try:
        yield session
    finally:
        session.clean_up()
