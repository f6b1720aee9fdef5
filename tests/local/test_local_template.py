"""template.py, model.py and sam_env.py on template.yaml. The supported set (template.SUPPORTED) is held equal to
what template.yaml uses, and anything else is refused: a new template feature fails here until emulated."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest

from filegate_local import sam_env
from filegate_local import template as template_module
from filegate_local.model import build_model
from filegate_local.resources import creation_order
from filegate_local.template import SUPPORTED, Template, TemplateError, intrinsics_in, load_template_file

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
RAW = load_template_file(TEMPLATE)


def test_the_supported_set_is_exactly_what_template_yaml_uses() -> None:
    used: dict[str, Any] = {"resources": {}, "skipped": set(), "events": {}, "intrinsics": intrinsics_in(RAW)}
    used["resources"]["AWS::Serverless::Function"] = set(RAW["Globals"]["Function"])
    for resource in RAW["Resources"].values():
        kind, properties = resource["Type"], resource.get("Properties") or {}
        if kind in SUPPORTED["resources"]:
            used["resources"].setdefault(kind, set()).update(properties)
        else:
            used["skipped"].add(kind)
        for event in properties.get("Events", {}).values():
            used["events"].setdefault(event["Type"], set()).update(event["Properties"])
    assert used == SUPPORTED


def update_at(root: dict[str, Any], path: str, values: dict[str, Any]) -> None:  # path: keys or list indexes
    for key in path.split("."):
        root = root[int(key)] if isinstance(root, list) else root[key]
    root.update(values)


EVENTS = "Resources.WorkerFunction.Properties.Events"
AUTH = "Resources.Api.Properties.Auth.Authorizers.KeyAuthorizer"
STAMPER = "Resources.StamperFunction.Properties.Events.KeyChanges.Properties"
DISPATCHER = "Resources.DispatcherFunction.Properties.Events.Deliveries.Properties"
LOGS = "Resources.ActivityFunction.Properties.Events.AuthorizerLogs.Properties"


@pytest.mark.parametrize(
    ("path", "values", "message"),
    [  # refused when the template is read: every use beyond SUPPORTED, by name
        ("Resources.KeysTable.Properties", {"TableClass": "X"}, "KeysTable: AWS::DynamoDB::Table property TableClass"),
        (EVENTS, {"Nightly": {"Type": "Schedule", "Properties": {}}}, "WorkerFunction.Nightly: event type Schedule"),
        (f"{EVENTS}.Jobs.Properties", {"ScalingConfig": {}}, "WorkerFunction.Jobs: SQS event property ScalingConfig"),
        ("Resources", {"Cleaner": {"Type": "AWS::Events::Rule"}}, "Cleaner: resource type AWS::Events::Rule"),
        ("Outputs", {"Joined": {"Value": {"Fn::Join": ["-", ["a", "b"]]}}}, "intrinsic Fn::Join"),
        ("Globals", {"Api": {"TracingEnabled": True}}, "Globals.Api"),
        ("Globals.Function", {"VpcConfig": {}}, "Globals.Function.VpcConfig"),
        # refused by the model: a supported property with a value or shape beyond the template's use
        (STAMPER, {"FilterCriteria": {"Filters": [{"Pattern": '{"eventName": [{"prefix": "MO"}]}'}]}}, "only exact"),
        (STAMPER, {"StartingPosition": "LATEST"}, "StartingPosition LATEST is not emulated"),
        (STAMPER, {"MaximumRetryAttempts": 3}, "MaximumRetryAttempts 3 is not emulated"),
        (DISPATCHER, {"MaximumBatchingWindowInSeconds": 5}, "Window"),
        (AUTH, {"FunctionPayloadType": "TOKEN"}, "only REQUEST"),
        (f"{AUTH}.Identity", {"Context": ["identity.userAgent"]}, "only REQUEST"),
        ("Resources.Api.Properties.MethodSettings.0", {"ResourcePath": "/v1/convert"}, "every resource"),
        ("Resources.Api.Properties", {"GatewayResponses": {"DEFAULT_4XX": {}}}, "DEFAULT_4XX and DEFAULT_5XX"),
        (LOGS, {"LogGroupName": "/x"}, "no function's"),
    ],
)
def test_what_is_not_emulated_is_refused(monkeypatch: pytest.MonkeyPatch, path: str, values: Any, message: str) -> None:
    raw = copy.deepcopy(RAW)
    update_at(raw, path, values)
    monkeypatch.setattr(template_module, "load_template_file", lambda path: raw)
    with pytest.raises(TemplateError, match=re.escape(message)):
        build_model(Template(TEMPLATE))


def test_the_model_of_template_yaml() -> None:
    template = Template(TEMPLATE, stack_name="st", parameter_overrides={"AuthorizerCacheTtl": "60"})
    model = build_model(template)
    api = model.apis["Api"]
    assert (api.stage, api.binary_media_types, api.name) == ("prod", ("*/*",), "st-api")
    assert api.authorizer is not None and api.authorizer.ttl_seconds == 60
    assert (api.authorizer.function, api.authorizer.headers) == ("AuthorizerFunction", ("Authorization",))
    assert any(r.authorizer is None for r in api.routes) and any(r.authorizer == "KeyAuthorizer" for r in api.routes)
    assert model.functions["AuthorizerFunction"].layer_dirs[0] == ROOT / "layers" / "common"
    assert template.outputs()["KeysTableName"] == "st-KeysTable"
    assert template.outputs()["ConversionsQueueUrl"] == "http://127.0.0.1:4566/123456789012/st-ConversionsQueue"
    stamper = {m.table: m for m in model.stream_mappings if m.function == "StamperFunction"}
    assert set(stamper) == {"KeysTable", "AccountsTable"}
    keys = stamper["KeysTable"]
    assert keys.stream_arn.startswith("arn:aws:dynamodb:us-east-1:123456789012:table/st-KeysTable/stream/")
    assert keys.bisect_on_error and keys.report_batch_item_failures and keys.filters == ({"eventName": ["MODIFY"]},)
    order = creation_order(template)
    assert order.index("ConversionsDeadLetterQueue") < order.index("ConversionsQueue")
    documents = model.functions["DocumentsFunction"]  # an image function runs its task root from the source tree
    assert (documents.code_dir, documents.handler) == (ROOT / "functions" / "documents", "app.handler")
    assert documents.layer_dirs == (ROOT / "layers" / "common",)  # IgnoreGlobals: no CommonLayer besides
    assert documents.timeout_seconds == 300 and documents.runtime == "image"
    polled = {m.queue: m.function for m in model.sqs_mappings}
    assert polled["DocumentsQueue"] == "DocumentsFunction"
    assert polled["DocumentsDeadLetterQueue"] == "DocumentsDeadLetterFunction"


@pytest.mark.parametrize("overrides", [{"NoSuchParameter": "1"}, {"LogLevel": "LOUD"}])
def test_parameters_are_held_to_the_templates_rules(overrides: dict[str, str]) -> None:
    with pytest.raises(TemplateError, match="parameter"):
        Template(TEMPLATE, parameter_overrides=overrides)


def test_the_loader_gives_long_forms_as_plain_types_and_refuses_duplicate_keys(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text("Resources:\n  R:\n    Type: T\n    Properties: {A: !GetAtt X.Arn, B: !Not [!Ref C]}\n")
    properties = load_template_file(path)["Resources"]["R"]["Properties"]
    assert properties == {"A": {"Fn::GetAtt": ["X", "Arn"]}, "B": {"Fn::Not": [{"Ref": "C"}]}}
    assert type(properties["A"]["Fn::GetAtt"][0]) is str  # not the loader's marked str
    path.write_text("Resources:\n  R: {Type: AWS::SQS::Queue}\n  R: {Type: AWS::SNS::Topic}\n")
    with pytest.raises(TemplateError, match="Duplicate"):
        load_template_file(path)


def test_make_sam_local_env_gives_each_function_the_local_names_and_moto(tmp_path: Path) -> None:
    output, moto = tmp_path / "env.json", "http://127.0.0.1:4566"
    assert sam_env.main(["--template", str(TEMPLATE), "--moto-endpoint", moto, "--output", str(output)]) == 0
    written = json.loads(output.read_text(encoding="utf-8"))
    template = Template(TEMPLATE, moto_endpoint=moto)  # make dev's stack name
    assert set(written) == set(template.of_type("AWS::Serverless::Function"))
    assert written["KeysFunction"]["KEYS_TABLE"] == template.physical("KeysTable").name != "KeysTable"  # not sam's
    assert written["ConvertFunction"]["CONVERSIONS_QUEUE_URL"].startswith(moto + "/")
    declared_everywhere = set(RAW["Globals"]["Function"]["Environment"]["Variables"])  # has the endpoint
    for logical_id, environment in written.items():  # sam local applies only variables the template declares
        own = set(template.raw_properties(logical_id).get("Environment", {}).get("Variables", {}))
        assert environment["AWS_ENDPOINT_URL"] == moto and set(environment) <= own | declared_everywhere, logical_id
