"""A local stack (template.yaml on moto) started for tests: free ports, its logs in its state directory, and
the loopback-only switches every test function gets. Used by the integration, browser and bench suites."""

from __future__ import annotations

import sys
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT / "infra") not in sys.path:  # works before `pip install -e .` learned about filegate_local
    sys.path.insert(0, str(ROOT / "infra"))

from filegate_local import LocalStack, StackConfig  # noqa: E402

HTTP_TIMEOUT = httpx.Timeout(60.0, connect=5.0)
# Local-only switches for every function in tests: webhook receivers and import sources in tests are
# plain-http loopback servers, which the deployed stack never allows, and no host name but localhost
# resolves (schemathesis makes up URLs: none of them may reach real DNS).
TEST_FUNCTION_ENVIRONMENT = {"EGRESS_ALLOW_INSECURE_LOOPBACK": "true", "EGRESS_RESOLVE_LOOPBACK_ONLY": "true"}


def start_local_stack(
    template: Path, state_dir: Path, *, environment: dict[str, str] | None = None, **overrides: object
) -> LocalStack:
    """A started LocalStack for tests: free ports, function logs only in state_dir/logs.

    `overrides` are StackConfig fields (parameters=..., workers_per_function=..., stack_name=...).
    """
    config = StackConfig(
        template=template,
        port=0,
        moto_port=0,
        state_dir=state_dir,
        echo_logs=False,
        environment={**TEST_FUNCTION_ENVIRONMENT, **(environment or {})},
        **overrides,  # type: ignore[arg-type]
    )
    return LocalStack(config).start()
