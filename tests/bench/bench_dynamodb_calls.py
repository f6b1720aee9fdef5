"""DynamoDB calls per request, counted with botocore event hooks on the real handlers.

Starts the local stack (moto server + tables from template.yaml) on free ports, then calls the
authorizer and the keys function in this process, counting every DynamoDB API call their clients make.
Prints figures; asserts nothing.

    .venv/bin/python tests/bench/bench_dynamodb_calls.py
"""

from __future__ import annotations

import collections
import importlib.util
import json
import os
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "infra"), str(ROOT / "layers" / "common")]

from filegate_local.stack import LocalStack, StackConfig  # noqa: E402

calls: collections.Counter[str] = collections.Counter()


def _count(event_name: str, **_: Any) -> None:
    calls[event_name.rsplit(".", 1)[-1]] += 1


def _load(function: str, env: dict[str, str]) -> Any:
    os.environ.update(env)
    path = ROOT / "functions" / function / "app.py"
    spec = importlib.util.spec_from_file_location(f"bench_{function}_app", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _hook_all_clients() -> None:
    """pynamodb keeps one botocore client per model; hook each one the function bound to a table."""
    from pynamodb.models import Model

    hooked = 0
    for model in _models(Model):
        if getattr(model.Meta, "table_name", None):
            client = model._get_connection().connection.client  # type: ignore[attr-defined]
            client.meta.events.register("before-call.dynamodb", _count)
            hooked += 1
    assert hooked


def _models(base: type) -> list[type]:
    return [m for sub in base.__subclasses__() for m in (sub, *_models(sub))]


class _Context:
    function_name = "bench"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench"
    aws_request_id = "bench"


def _api_event(method: str, path: str, authorizer: dict[str, Any] | None, body: Any = None) -> dict[str, Any]:
    return {
        "resource": path,
        "path": path,
        "httpMethod": method,
        "headers": {"content-type": "application/json"},
        "multiValueHeaders": {"content-type": ["application/json"]},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": None,
        "stageVariables": None,
        "isBase64Encoded": False,
        "body": None if body is None else json.dumps(body),
        "requestContext": {
            "requestId": str(uuid.uuid4()),
            "apiId": "bench",
            "stage": "prod",
            "httpMethod": method,
            "path": "/prod" + path,
            "resourcePath": path,
            "identity": {"sourceIp": "127.0.0.9"},
            "authorizer": authorizer,
        },
    }


def _authorizer_event(header: str) -> dict[str, Any]:
    return {
        "type": "REQUEST",
        "methodArn": "arn:aws:execute-api:us-east-1:123456789012:bench/prod/GET/v1/entitlements/me",
        "headers": {"Authorization": header},
        "requestContext": {"requestId": str(uuid.uuid4()), "identity": {"sourceIp": "127.0.0.9"}},
    }


def _measure(label: str, action: Any, rows: list[tuple[str, int, str]]) -> Any:
    calls.clear()
    result = action()
    rows.append((label, sum(calls.values()), ", ".join(f"{k}x{v}" for k, v in sorted(calls.items())) or "-"))
    return result


def main() -> None:
    with (
        tempfile.TemporaryDirectory() as state,
        LocalStack(StackConfig(template=ROOT / "template.yaml", port=0, moto_port=0, state_dir=Path(state))) as stack,
    ):
        outputs = stack.state["outputs"]
        env = {
            "AWS_ENDPOINT_URL": stack.moto_url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "POWERTOOLS_SERVICE_NAME": "bench",
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_LOG_LEVEL": "ERROR",
            "ACCOUNTS_TABLE": outputs["AccountsTableName"],
            "KEYS_TABLE": outputs["KeysTableName"],
            "COUNTERS_TABLE": outputs["CountersTableName"],
            "EMAILS_TABLE": outputs["EmailsTableName"],
        }
        authorizer = _load("authorizer", env)
        keys = _load("keys", env)
        from filegate.accounts.service import create_account_for_operator
        from filegate.clock import utcnow
        from filegate.keys import keyformat

        _, issued = create_account_for_operator(f"bench-{uuid.uuid4().hex[:8]}@example.com", "free", utcnow())
        _hook_all_clients()
        rows: list[tuple[str, int, str]] = []
        header = f"Bearer {issued.raw_key}"
        policy = _measure(
            "authorizer, cache miss (first in its minute)",
            lambda: authorizer.handler(_authorizer_event(header), _Context()),
            rows,
        )
        _measure(
            "authorizer, cache miss (same minute)",
            lambda: authorizer.handler(_authorizer_event(header), _Context()),
            rows,
        )
        bad = keyformat.generate()[:-1] + "a"

        def refused() -> None:
            try:
                authorizer.handler(_authorizer_event(f"Bearer {bad}"), _Context())
            except Exception as exc:  # the authorizer's 401
                assert str(exc) == "Unauthorized"

        _measure("authorizer, bad checksum", refused, rows)
        context = {**policy["context"], "principalId": policy["principalId"]}
        for i in range(10):
            _measure(
                f"keys: GET /v1/entitlements/me (request {i + 1}/10 of the minute)",
                lambda: keys.handler(_api_event("GET", "/v1/entitlements/me", context), _Context()),
                rows,
            )
        response = _measure(
            "keys: GET /v1/entitlements/me, rate-limited (11th)",
            lambda: keys.handler(_api_event("GET", "/v1/entitlements/me", context), _Context()),
            rows,
        )
        rows = rows[:4] + rows[-2:]  # the first call of the minute, one in steady state, the limited one
        print("DynamoDB calls per request (botocore before-call hooks on every pynamodb client)")
        print(f"{'request':<58}{'calls':>6}  operations")
        for label, total, ops in rows:
            print(f"{label:<58}{total:>6}  {ops}")
        print(f"(rate-limited call answered {response['statusCode']})")


if __name__ == "__main__":
    main()
