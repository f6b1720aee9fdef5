"""Issue 22's rules that are held against the template rather than run: the stamper's wait for a change's
caller outlasts every function that makes changes, and a function's error body is spelled as the gateway's."""

from __future__ import annotations

from typing import Any

import pytest

from filegate import errors
from filegate.keys import backstop
from tests.helpers.template import fn_prop, functions, load_template

# The functions whose calls change keys or accounts (and stamp them): the keys API, the dashboard, and the
# secret-scanning receiver's revokes.
CHANGING_FUNCTIONS = ("KeysFunction", "DashboardFunction", "SecretScanningFunction")


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template()


def test_the_stamper_waits_longer_than_any_change_call_can_run(template: dict[str, Any]) -> None:
    every = functions(template)
    for name in CHANGING_FUNCTIONS:
        timeout = int(fn_prop(template, every[name], "Timeout"))
        assert timeout < backstop.CALLER_SECONDS, (name, timeout)
    stamper_timeout = int(fn_prop(template, every["StamperFunction"], "Timeout"))
    assert stamper_timeout >= backstop.CALLER_SECONDS * 2  # waiting leaves it time to stamp


def test_a_functions_error_body_is_spelled_as_the_gateways(template: dict[str, Any]) -> None:
    api = next(r for r in template["Resources"].values() if r.get("Type") == "AWS::Serverless::Api")
    responses = api["Properties"]["GatewayResponses"]
    for kind, error in (("UNAUTHORIZED", errors.InvalidApiKey()), ("DEFAULT_5XX", errors.InternalError())):
        gateway = responses[kind]["ResponseTemplates"]["application/json"]
        ours = errors.error_bytes(error.code, error.message, "$context.requestId").decode()
        assert ours == gateway, kind
