"""The local stack emulates what template.yaml uses, all of it and no more: its declared supported set
(filegate_local.template.SUPPORTED) is held equal to what the template uses, and a template using anything
else is refused when it is read, so a new template feature fails here (and `make dev`) until it is emulated.
"""

from __future__ import annotations

import copy
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from filegate_local.model import StackModel, build_model
from filegate_local.template import (
    EMULATED_RESOURCES,
    EVENTS,
    INTRINSICS,
    SKIPPED_RESOURCES,
    Template,
    TemplateError,
    load_template_file,
    unsupported,
)

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
RAW = load_template_file(TEMPLATE)


def intrinsics_in(value: Any) -> set[str]:
    if isinstance(value, list):
        return set().union(*(intrinsics_in(v) for v in value))
    if not isinstance(value, dict):
        return set()
    found = set().union(*(intrinsics_in(v) for v in value.values()))
    return found | {k for k in value if len(value) == 1 and (k == "Ref" or k.startswith("Fn::"))}


def test_the_supported_set_is_exactly_what_template_yaml_uses() -> None:
    resources = RAW["Resources"].values()
    used_types = {r["Type"] for r in resources}
    assert used_types == set(EMULATED_RESOURCES) | SKIPPED_RESOURCES
    for kind, known in EMULATED_RESOURCES.items():
        used = {p for r in resources if r["Type"] == kind for p in r.get("Properties") or {}}
        if kind == "AWS::Serverless::Function":
            used |= set(RAW["Globals"]["Function"])
        assert used == known, (
            f"{kind}: used, not declared {sorted(used - known)}; declared, unused {sorted(known - used)}"
        )
    events = [e for r in resources for e in (r.get("Properties") or {}).get("Events", {}).values()]
    for kind, known in EVENTS.items():
        assert {p for e in events if e["Type"] == kind for p in e.get("Properties") or {}} == known, kind
    assert {e["Type"] for e in events} == set(EVENTS)
    assert intrinsics_in(RAW) == INTRINSICS
    assert unsupported(RAW) == []


def _add_property(raw: dict[str, Any]) -> None:
    raw["Resources"]["KeysTable"]["Properties"]["TableClass"] = "STANDARD_INFREQUENT_ACCESS"


def _add_event(raw: dict[str, Any]) -> None:
    events = raw["Resources"]["WorkerFunction"]["Properties"]["Events"]
    events["Nightly"] = {"Type": "Schedule", "Properties": {"Schedule": "rate(1 day)"}}


def _add_event_property(raw: dict[str, Any]) -> None:
    raw["Resources"]["WorkerFunction"]["Properties"]["Events"]["Jobs"]["Properties"]["ScalingConfig"] = {}


def _add_resource(raw: dict[str, Any]) -> None:
    raw["Resources"]["Cleaner"] = {"Type": "AWS::Events::Rule", "Properties": {}}


def _add_intrinsic(raw: dict[str, Any]) -> None:
    raw["Outputs"]["Joined"] = {"Value": {"Fn::Join": ["-", ["a", "b"]]}}


def _add_globals(raw: dict[str, Any]) -> None:
    raw["Globals"]["Api"] = {"TracingEnabled": True}


def _add_global_property(raw: dict[str, Any]) -> None:
    raw["Globals"]["Function"]["VpcConfig"] = {}


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (_add_property, "KeysTable: AWS::DynamoDB::Table property TableClass"),
        (_add_event, "WorkerFunction.Nightly: event type Schedule"),
        (_add_event_property, "WorkerFunction.Jobs: SQS event property ScalingConfig"),
        (_add_resource, "Cleaner: resource type AWS::Events::Rule"),
        (_add_intrinsic, "intrinsic Fn::Join"),
        (_add_globals, "Globals.Api"),
        (_add_global_property, "Globals.Function.VpcConfig"),
    ],
)
def test_a_feature_the_emulator_does_not_know_is_refused_by_name(
    change: Callable[[dict[str, Any]], None], named: str
) -> None:
    raw = copy.deepcopy(RAW)
    change(raw)
    assert unsupported(raw) == [named]


def test_the_refusal_comes_when_the_stack_reads_the_template(tmp_path: Path) -> None:
    text = TEMPLATE.read_text(encoding="utf-8")
    path = tmp_path / "template.yaml"
    path.write_text(text.replace("Resources:\n", "Resources:\n  Cleaner:\n    Type: AWS::Events::Rule\n", 1))
    with pytest.raises(TemplateError, match="does not emulate:\n  Cleaner: resource type AWS::Events::Rule"):
        Template(path)


def model_with(change: Callable[[dict[str, Any]], None]) -> StackModel:
    """The model of template.yaml with `change` made to its (effective) resources."""
    template = Template(TEMPLATE)
    template.resources = copy.deepcopy(template.resources)
    change(template.resources)
    return build_model(template)


def _events(resources: dict[str, Any], function: str) -> dict[str, Any]:
    return resources[function]["Properties"]["Events"]  # type: ignore[no-any-return]


def _auth(resources: dict[str, Any]) -> dict[str, Any]:
    return resources["Api"]["Properties"]["Auth"]["Authorizers"]["KeyAuthorizer"]  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda r: _events(r, "StamperFunction")["KeyChanges"]["Properties"].update(FilterCriteria={"Filters": [{"Pattern": '{"eventName": [{"prefix": "MO"}]}'}]}), "only exact values"),
        (lambda r: _events(r, "StamperFunction")["KeyChanges"]["Properties"].update(StartingPosition="AT_TIMESTAMP"), "TRIM_HORIZON or LATEST"),
        (lambda r: _auth(r).update(FunctionPayloadType="TOKEN"), "only REQUEST"),
        (lambda r: _auth(r)["Identity"].update(Context=["identity.userAgent"]), "only REQUEST"),
        (lambda r: r["Api"]["Properties"]["MethodSettings"][0].update(ResourcePath="/v1/convert"), "every resource"),
        (lambda r: r["Api"]["Properties"]["GatewayResponses"].pop("DEFAULT_5XX"), "DEFAULT_4XX and DEFAULT_5XX"),
        (lambda r: _events(r, "ActivityFunction")["AuthorizerLogs"]["Properties"].update(LogGroupName="/elsewhere"), "no function's"),
    ],
    ids=["filter-operator", "starting-position", "token-authorizer", "identity-source", "per-route-throttle", "no-default-5xx", "log-group"],
)  # fmt: skip
def test_shapes_beyond_the_templates_use_are_refused(change: Callable[[dict[str, Any]], Any], message: str) -> None:
    with pytest.raises(TemplateError, match=message):
        model_with(change)


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
    stamper = {m.table: m for m in model.stream_mappings if m.function == "StamperFunction"}
    assert set(stamper) == {"KeysTable", "AccountsTable"}
    keys = stamper["KeysTable"]
    assert (keys.starting_position, keys.bisect_on_error, keys.maximum_retry_attempts) == ("TRIM_HORIZON", True, -1)
    assert keys.filters == ({"eventName": ["MODIFY"]},) and keys.report_batch_item_failures
    order = template.creation_order(template.of_type("AWS::SQS::Queue"))
    assert order.index("ConversionsDeadLetterQueue") < order.index("ConversionsQueue")


def test_the_image_function_runs_its_task_root_from_the_source_tree() -> None:
    model = build_model(Template(TEMPLATE))
    documents = model.functions["DocumentsFunction"]
    assert (documents.code_dir, documents.handler) == (ROOT / "functions" / "documents", "app.handler")
    assert documents.layer_dirs == (ROOT / "layers" / "common",)  # IgnoreGlobals: no CommonLayer besides
    assert documents.timeout_seconds == 300
    assert model.functions["DocumentsDeadLetterFunction"].handler == "app.dead_letter_handler"
    polled = {m.function: m.queue for m in model.sqs_mappings}
    assert (polled["DocumentsFunction"], polled["DocumentsDeadLetterFunction"]) == (
        "DocumentsQueue",
        "DocumentsDeadLetterQueue",
    )


@pytest.mark.parametrize(
    "overrides",
    [{"NoSuchParameter": "1"}, {"LogLevel": "LOUD"}, {"AuthorizerCacheTtl": "7200"}, {"LongMediaSeconds": "abc"}],
)
def test_parameters_are_held_to_the_templates_rules(overrides: dict[str, str]) -> None:
    with pytest.raises(TemplateError, match="parameter"):
        Template(TEMPLATE, parameter_overrides=overrides)


def test_the_loader_gives_long_forms_as_plain_types_and_refuses_duplicate_keys(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text(
        textwrap.dedent("Resources:\n  R:\n    Type: T\n    Properties: {A: !GetAtt X.Arn, B: !Not [!Ref C]}\n")
    )
    properties = load_template_file(path)["Resources"]["R"]["Properties"]
    assert properties == {"A": {"Fn::GetAtt": ["X", "Arn"]}, "B": {"Fn::Not": [{"Ref": "C"}]}}
    assert type(properties["A"]["Fn::GetAtt"][0]) is str  # not the loader's marked str
    path.write_text("Resources:\n  R: {Type: AWS::SQS::Queue}\n  R: {Type: AWS::SNS::Topic}\n")
    with pytest.raises(TemplateError, match="Duplicate"):
        load_template_file(path)
