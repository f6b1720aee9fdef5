"""Business metrics are EMF lines written when the event happens; a request that counts nothing is silent."""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import Request

from filegate import errors, observability
from filegate.formats.table import kind
from filegate.lambda_http import http_handler
from filegate.web import create_app


@pytest.fixture(autouse=True)
def _environment(monkeypatch: pytest.MonkeyPatch) -> None:
    # The namespace is ours, not the environment's: metrics work where nothing set POWERTOOLS_*.
    monkeypatch.delenv("POWERTOOLS_METRICS_NAMESPACE", raising=False)
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)


def _emf_lines(out: str) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in out.splitlines() if line.startswith('{"_aws"')]
    return [line for line in lines if "CloudWatchMetrics" in line["_aws"]]


def _metric(line: dict[str, Any]) -> str:
    (directive,) = line["_aws"]["CloudWatchMetrics"]
    (metric,) = directive["Metrics"]
    assert directive["Namespace"] == "FileGate"
    return str(metric["Name"])


def test_a_conversion_is_counted_with_its_kind(capsys: pytest.CaptureFixture[str]) -> None:
    observability.conversion_finished(kind("jpeg"), succeeded=True)
    observability.conversion_finished(kind("pdf"), succeeded=False)
    first, second = _emf_lines(capsys.readouterr().out)
    assert (_metric(first), first["kind"], first[observability.CONVERSIONS_SUCCEEDED]) == (
        observability.CONVERSIONS_SUCCEEDED,
        "image",
        [1.0],
    )
    assert (_metric(second), second["kind"]) == (observability.CONVERSIONS_FAILED, "document")
    assert [d for d in first["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0] if d != "service"] == ["kind"]


def test_kind_of_an_unknown_format() -> None:
    assert kind(None) == "unknown" and kind("nope") == "unknown"


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [("mp4", "video"), ("webm", "video"), ("gif", "image"), ("mp3", "audio"), ("m4a", "audio"), ("flac", "audio")],
)
def test_audio_and_video_are_counted_as_what_they_are(fmt: str, expected: str) -> None:
    assert kind(fmt) == expected


@dataclass
class _LambdaContext:
    function_name: str = "test"
    memory_limit_in_mb: int = 128
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:test"
    aws_request_id: str = "req"


app = create_app("metrics")


@app.get("/v1/ok")
def ok() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/v1/refuse/{code}")
def refuse(code: str, request: Request) -> None:
    raise {"rate": errors.RateLimited(), "quota": errors.QuotaExceeded(), "other": errors.NotFound()}[code]


handler = observability.instrument(http_handler(app), trace=False)


def _get(path: str) -> dict[str, Any]:
    event = {
        "resource": path,
        "path": path,
        "httpMethod": "GET",
        "headers": {},
        "multiValueHeaders": {},
        "requestContext": {"requestId": "r1", "stage": "prod", "identity": {"sourceIp": "203.0.113.1"}},
        "body": None,
        "isBase64Encoded": False,
    }
    return dict(handler(event, _LambdaContext()))


def test_refusals_are_counted_where_errors_are_answered(capsys: pytest.CaptureFixture[str]) -> None:
    assert _get("/v1/refuse/rate")["statusCode"] == 429
    assert _get("/v1/refuse/quota")["statusCode"] == 429
    assert _get("/v1/refuse/other")["statusCode"] == 404
    names = [_metric(line) for line in _emf_lines(capsys.readouterr().out)]
    assert names == [observability.RATE_LIMITED, observability.QUOTA_EXCEEDED]


def test_a_request_that_counts_nothing_publishes_nothing_and_warns_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # Powertools' "No application metrics to publish" is a warning
        assert _get("/v1/ok")["statusCode"] == 200
    assert _emf_lines(capsys.readouterr().out) == []
