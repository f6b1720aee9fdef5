"""Service-tier fixtures: moto server + the template's resources, every function's handler in-process.

One session: moto server on a free 127.0.0.1 port (its own process, as the local stack runs it), the
tables, bucket and queues of template.yaml created by the local stack's provisioner, and each function
imported with the environment the template gives it. Tests call the handlers through
:class:`~tests.service.harness.ServiceApi` (API Gateway proxy and authorizer events, SQS and DynamoDB
stream events); each test makes its own accounts, so tests do not depend on each other or on their order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from filegate.keys import checkpoints
from filegate_local.model import FunctionSpec, StackModel, build_model
from filegate_local.resources import Provisioner
from filegate_local.stack import MotoServer, free_port
from filegate_local.template import Template
from tests.service.harness import Functions, ServiceApi
from tests.service.helpers import Account, sign_up
from tests.service.races import StamperClock

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
STACK_NAME = "filegate-service"
# The local-only switches the local stack's tests use too: webhook receivers and import sources here are
# plain-http loopback servers, which a deployed stack never allows (private and metadata addresses stay
# refused), and no host name but localhost resolves, so no test's made-up name reaches real DNS.
# Sign-in answers are not padded here (each would take a second); the padding is tested with a fake clock.
LOCAL_FUNCTION_ENVIRONMENT = {
    "EGRESS_ALLOW_INSECURE_LOOPBACK": "true",
    "EGRESS_RESOLVE_LOOPBACK_ONLY": "true",
    "SIGN_IN_ANSWER_SECONDS": "0",
}
# Long media is cut above 30 s in segments of 15 s here, so a clip of a minute or so fans out.
# Links in mail point at PublicBaseUrl, whatever Host a request came with (a proxy would forward the client's).
PUBLIC_BASE_URL = "https://files.example.test"
PARAMETER_OVERRIDES = {"LongMediaSeconds": "30", "MediaSegmentSeconds": "15", "PublicBaseUrl": PUBLIC_BASE_URL}


def lambda_environment(spec: FunctionSpec, region: str, moto_url: str) -> dict[str, str]:
    """What Lambda would set for the function, the template's variables over it, and the local switches."""
    return {
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_LAMBDA_FUNCTION_NAME": spec.name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{spec.runtime}",
        "LAMBDA_TASK_ROOT": str(spec.code_dir),  # libraries tell Lambda from elsewhere by it (Powertools' batch)
        "_HANDLER": spec.handler,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_ENDPOINT_URL": moto_url,
        "POWERTOOLS_TRACE_DISABLED": "true",
        **spec.environment,  # the template's variables win, as in Lambda
        **LOCAL_FUNCTION_ENVIRONMENT,
    }


@dataclass
class Stack:
    template: Template
    model: StackModel
    functions: Functions
    api: ServiceApi
    moto_url: str
    sqs: Any
    s3: Any


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    log_dir = tmp_path_factory.mktemp("service-moto")
    moto = MotoServer("127.0.0.1", free_port(), log_dir / "moto.log")
    patch = pytest.MonkeyPatch()
    try:
        moto.start()
        # This process talks to moto only: dummy credentials, no profile, no instance metadata.
        for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
            patch.delenv(name, raising=False)
        template = Template(
            TEMPLATE, stack_name=STACK_NAME, moto_endpoint=moto.url, parameter_overrides=PARAMETER_OVERRIDES
        )
        for name, value in {
            "AWS_ENDPOINT_URL": moto.url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": template.region,
            "AWS_REGION": template.region,
            "AWS_EC2_METADATA_DISABLED": "true",
        }.items():
            patch.setenv(name, value)
        Provisioner(template, moto.url).provision()
        model = build_model(template)
        environments = {
            logical_id: lambda_environment(spec, template.region, moto.url)
            for logical_id, spec in model.functions.items()
        }
        functions = Functions(model, environments)
        for logical_id in model.functions:
            functions.module(logical_id)  # cold starts up front: each with its own settings, once
        sqs = boto3.client("sqs", endpoint_url=moto.url, region_name=template.region)
        s3 = boto3.client("s3", endpoint_url=moto.url, region_name=template.region)
        api = ServiceApi(
            model,
            functions,
            api="Api",
            region=template.region,
            sqs=sqs,
            parameters=template.parameters,
            dynamodb=boto3.client("dynamodb", endpoint_url=moto.url, region_name=template.region),
            streams=boto3.client("dynamodbstreams", endpoint_url=moto.url, region_name=template.region),
        )
        yield Stack(template, model, functions, api, moto.url, sqs, s3)
    finally:
        patch.undo()
        moto.stop()


@pytest.fixture(scope="session")
def api(stack: Stack) -> ServiceApi:
    return stack.api


@pytest.fixture
def free_account(api: ServiceApi) -> Account:
    return sign_up(api, "free")


@pytest.fixture
def pro_account(api: ServiceApi) -> Account:
    return sign_up(api, "pro")


@pytest.fixture
def hooks() -> Iterator[list[Callable[[str], None]]]:
    """Hooks every checkpoint calls in turn; removed after the test."""
    installed: list[Callable[[str], None]] = []

    def run_all(name: str) -> None:
        for hook in list(installed):
            hook(name)

    checkpoints.set_hook(run_all)
    try:
        yield installed
    finally:
        checkpoints.set_hook(None)


@pytest.fixture
def stamper_clock(api: ServiceApi, monkeypatch: pytest.MonkeyPatch) -> StamperClock:
    """The stamper's clock and sleep, replaced for the test: its wait for a change's caller costs no time."""
    clock = StamperClock()
    module = api.functions.module("StamperFunction")
    monkeypatch.setattr(module, "clock", clock.now, raising=False)  # raising=False: older stampers had none
    monkeypatch.setattr(module, "wait", clock.wait, raising=False)
    return clock
