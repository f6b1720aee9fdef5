"""Integration fixtures: one local stack (template.yaml on moto) for the whole session, over real HTTP.

- `stack`: the running LocalStack: `.url` (gateway base URL), `.moto_url`, `.state` (stack.json),
  `.state_dir`, `.log_dir`, `.log_file(FunctionLogicalId)`, `.invocations(FunctionLogicalId)`.
  It listens on free ports (never 3000/4566, so a running `make dev` does not collide) with a temporary
  state directory, and is stopped at the end of the session.
- `http`: an httpx client bound to the stack's URL, with timeouts (absolute URLs work too).

While the session runs, this process talks to moto only: AWS_ENDPOINT_URL and friends point at the stack
and the credentials are dummies, so no test can reach a real AWS account by accident.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

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


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    state_dir = tmp_path_factory.mktemp("local-stack")
    local = start_local_stack(ROOT / "template.yaml", state_dir, workers_per_function=4)
    patch = pytest.MonkeyPatch()
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        patch.delenv(name, raising=False)
    for name, value in local.state["environment"].items():
        patch.setenv(name, value)
    patch.setenv("AWS_REGION", local.state["region"])
    patch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    try:
        yield local
    finally:
        patch.undo()
        local.stop()


@pytest.fixture
def http(stack: LocalStack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.url, timeout=HTTP_TIMEOUT, follow_redirects=False) as client:
        yield client
