"""A local stack (template.yaml on moto) started for tests: free ports, its logs in its state directory, and
the loopback-only switches every test function gets. Used by the integration, browser and bench suites."""

from __future__ import annotations

import functools
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT / "infra") not in sys.path:  # works before `pip install -e .` learned about filegate_local
    sys.path.insert(0, str(ROOT / "infra"))

from filegate_local.model import StackModel, build_model  # noqa: E402
from filegate_local.stack import LocalStack, StackConfig  # noqa: E402
from filegate_local.template import Template  # noqa: E402

HTTP_TIMEOUT = httpx.Timeout(60.0, connect=5.0)
# Local-only switches for every function in tests: webhook receivers and import sources in tests are
# plain-http loopback servers, which the deployed stack never allows, and no host name but localhost
# resolves (schemathesis makes up URLs: none of them may reach real DNS).
TEST_FUNCTION_ENVIRONMENT = {"EGRESS_ALLOW_INSECURE_LOOPBACK": "true", "EGRESS_RESOLVE_LOOPBACK_ONLY": "true"}


@functools.cache
def template_model() -> StackModel:
    """What the local stack runs of template.yaml (stack name "st"), read once per test session."""
    return build_model(Template(ROOT / "template.yaml", stack_name="st"))


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


def bench_stack_config(state_dir: Path) -> StackConfig:
    """A stack for benchmarks: warm functions, and the authorizer's answer cached however long the run is."""
    return StackConfig(
        template=ROOT / "template.yaml",
        port=0,
        moto_port=0,
        state_dir=state_dir,
        warm=True,
        parameters={"AuthorizerCacheTtl": "3600"},
    )


@contextmanager
def running_stack(state_dir: Path, **options: Any) -> Iterator[LocalStack]:
    """template.yaml started for a test module or session (`options` as start_local_stack takes them), stopped
    when the block ends."""
    local = start_local_stack(ROOT / "template.yaml", state_dir, **options)
    try:
        yield local
    finally:
        local.stop()


@contextmanager
def aws_pointed_at(local: LocalStack) -> Iterator[None]:
    """While the block runs this process talks to the stack's moto only: its endpoint, region and dummy
    credentials, no profile, no instance metadata; so no test reaches a real AWS account by accident."""
    patch = pytest.MonkeyPatch()
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        patch.delenv(name, raising=False)
    for name, value in local.state["environment"].items():
        patch.setenv(name, value)
    patch.setenv("AWS_REGION", local.state["region"])
    patch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    try:
        yield
    finally:
        patch.undo()


def moto_client(local: LocalStack, service: str) -> Any:
    """A boto3 client of the stack's moto (dummy credentials): to look at or upset what the API stores."""
    return boto3.client(
        service,
        endpoint_url=local.moto_url,
        region_name=local.state["region"],
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def session_stack_fixtures() -> tuple[Any, Any]:
    """(`stack`, `http`) fixtures for a conftest: one local stack for the session (free ports, a temporary state
    directory, stopped at the end), with AWS pointed at it, and an httpx client bound to its URL. Each call
    makes fixtures of their own, so each folder that asks gets its own session stack."""

    @pytest.fixture(scope="session")
    def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
        state_dir = tmp_path_factory.mktemp("local-stack")
        with running_stack(state_dir, workers_per_function=4) as local, aws_pointed_at(local):
            yield local

    @pytest.fixture
    def http(stack: LocalStack) -> Iterator[httpx.Client]:
        with httpx.Client(base_url=stack.url, timeout=HTTP_TIMEOUT, follow_redirects=False) as client:
            yield client

    return stack, http
