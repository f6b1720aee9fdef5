"""The local stack's template reader: short-form tags, Globals, conditions, intrinsics, physical names."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from filegate_local.model import build_model
from filegate_local.template import NO_VALUE, Template, TemplateError, load_template_file, merge_globals

TEMPLATE = textwrap.dedent(
    """
    AWSTemplateFormatVersion: "2010-09-09"
    Transform: AWS::Serverless-2016-10-31
    Parameters:
      Stage:
        Type: String
        Default: prod
        AllowedPattern: "^[a-z]+$"
      Ttl:
        Type: Number
        Default: 300
        MinValue: 0
        MaxValue: 3600
      Mode:
        Type: String
        Default: lite
        AllowedValues: [lite, full]
    Conditions:
      IsFull: !Equals [!Ref Mode, full]
      NotFull: !Not [!Condition IsFull]
      Both: !And [!Condition NotFull, !Equals ["x", "x"]]
    Globals:
      Function:
        Runtime: python3.13
        Timeout: 10
        Layers: [!Ref Shared]
        Environment:
          Variables:
            TABLE: !Ref Table
            SHARED: global
    Resources:
      Api:
        Type: AWS::Serverless::Api
        Properties: {StageName: !Ref Stage}
      Shared:
        Type: AWS::Serverless::LayerVersion
        Properties: {LayerName: shared, ContentUri: layers/shared}
      Extra:
        Type: AWS::Serverless::LayerVersion
        Properties: {ContentUri: layers/extra}
      Table:
        Type: AWS::DynamoDB::Table
        Properties:
          AttributeDefinitions: [{AttributeName: id, AttributeType: S}]
          KeySchema: [{AttributeName: id, KeyType: HASH}]
      NamedTable:
        Type: AWS::DynamoDB::Table
        Properties:
          TableName: !Sub "${AWS::StackName}-named-${Stage}"
      Queue:
        Type: AWS::SQS::Queue
        Properties:
          RedrivePolicy:
            deadLetterTargetArn: !GetAtt DeadLetters.Arn
            maxReceiveCount: 3
      DeadLetters:
        Type: AWS::SQS::Queue
        Properties: {MessageRetentionPeriod: 1209600}
      Bucket:
        Type: AWS::S3::Bucket
      FullOnly:
        Type: AWS::SQS::Queue
        Condition: IsFull
      Fn:
        Type: AWS::Serverless::Function
        Properties:
          CodeUri: functions/fn
          Handler: app.handler
          Layers: [!Ref Extra]
          MemorySize: !If [IsFull, 1024, 128]
          Environment:
            Variables:
              SHARED: local
              QUEUE_URL: !Ref Queue
              QUEUE_NAME: !GetAtt Queue.QueueName
              DLQ_ARN: !GetAtt [DeadLetters, Arn]
              SUB_ATTR: !Sub "${Table.Arn}/index/*"
              SUB_VARS: !Sub ["${A}-${B}-${!Literal}", {A: !Ref Stage, B: !Ref "AWS::Partition"}]
              IF_VALUE: !If [IsFull, big, small]
              DROPPED: !If [IsFull, here, !Ref "AWS::NoValue"]
              BOTH: !If [Both, "yes", "no"]
              URL_SUFFIX: !Ref AWS::URLSuffix
              FN_ARN: !GetAtt Fn2.Arn
          Events:
            Get:
              Type: Api
              Properties: {RestApiId: !Ref Api, Path: "/things/{id}", Method: get}
            Work:
              Type: SQS
              Properties: {Queue: !GetAtt Queue.Arn, BatchSize: 7, FunctionResponseTypes: [ReportBatchItemFailures]}
      Fn2:
        Type: AWS::Serverless::Function
        Properties: {CodeUri: functions/fn, Handler: app.other, FunctionName: explicit-name}
    Outputs:
      TableName:
        Value: !Ref Table
      NamedTableName:
        Value: !Ref NamedTable
      ApiUrl:
        Value: !Sub "https://${Api}.execute-api.${AWS::Region}.${AWS::URLSuffix}/${Stage}"
      FullOnly:
        Condition: IsFull
        Value: !Ref FullOnly
    """
)


@pytest.fixture
def template_path(tmp_path: Path) -> Path:
    for folder in ("layers/shared", "layers/extra", "functions/fn"):
        (tmp_path / folder).mkdir(parents=True)
    path = tmp_path / "template.yaml"
    path.write_text(TEMPLATE)
    return path


def load(path: Path, **params: str) -> Template:
    return Template(path, stack_name="st", parameter_overrides=params, moto_endpoint="http://127.0.0.1:4566")


def env(template: Template) -> dict[str, str]:
    return build_model(template).functions["Fn"].environment


def test_refs_getatts_and_subs_resolve(template_path: Path) -> None:
    values = env(load(template_path))
    assert values["TABLE"] == "st-Table"
    assert values["QUEUE_URL"] == "http://127.0.0.1:4566/123456789012/st-Queue"
    assert values["QUEUE_NAME"] == "st-Queue"
    assert values["DLQ_ARN"] == "arn:aws:sqs:us-east-1:123456789012:st-DeadLetters"
    assert values["SUB_ATTR"] == "arn:aws:dynamodb:us-east-1:123456789012:table/st-Table/index/*"
    assert values["SUB_VARS"] == "prod-aws-${Literal}"
    assert values["URL_SUFFIX"] == "amazonaws.com"
    assert values["FN_ARN"] == "arn:aws:lambda:us-east-1:123456789012:function:explicit-name"


def test_conditions_if_and_no_value(template_path: Path) -> None:
    lite = load(template_path)
    assert env(lite)["IF_VALUE"] == "small"
    assert "DROPPED" not in env(lite)
    assert env(lite)["BOTH"] == "yes"
    assert "FullOnly" not in lite.resources
    assert "FullOnly" not in lite.outputs()
    full = load(template_path, Mode="full")
    assert env(full)["IF_VALUE"] == "big"
    assert env(full)["DROPPED"] == "here"
    assert env(full)["BOTH"] == "no"
    assert full.outputs()["FullOnly"].endswith("/st-FullOnly")
    assert build_model(full).functions["Fn"].memory_mb == 1024


def test_globals_merge_maps_and_add_lists(template_path: Path) -> None:
    template = load(template_path)
    spec = build_model(template).functions["Fn"]
    assert spec.environment["SHARED"] == "local"  # the function wins
    assert spec.environment["TABLE"] == "st-Table"  # from Globals
    assert spec.timeout_seconds == 10
    base = template_path.parent
    assert spec.layer_dirs == (base / "layers/shared", base / "layers/extra")  # globals first
    assert spec.code_dir == base / "functions/fn"
    other = build_model(template).functions["Fn2"]
    assert other.name == "explicit-name" and other.handler == "app.other"
    assert other.layer_dirs == (base / "layers/shared",)


def test_merge_globals_rules() -> None:
    assert merge_globals({"a": 1, "m": {"x": 1}}, {"m": {"y": 2}}) == {"a": 1, "m": {"x": 1, "y": 2}}
    assert merge_globals([1], [2]) == [1, 2]
    assert merge_globals("g", "l") == "l"
    assert merge_globals({"Ref": "A"}, {"Ref": "B"}) == {"Ref": "B"}


def test_physical_names_and_outputs(template_path: Path) -> None:
    template = load(template_path)
    outputs = template.outputs()
    assert outputs["TableName"] == "st-Table"
    assert outputs["NamedTableName"] == "st-named-prod"
    api_id = template.physical("Api").ref
    assert len(api_id) == 10 and api_id.isalnum()
    assert outputs["ApiUrl"] == f"https://{api_id}.execute-api.us-east-1.amazonaws.com/prod"
    assert template.physical("Bucket").name == "st-bucket"  # S3 names are lower case
    assert template.physical("Shared").ref == "arn:aws:lambda:us-east-1:123456789012:layer:shared:1"
    assert load(template_path).physical("Api").ref == api_id  # stable across runs


def test_creation_order_puts_dead_letter_queues_first(template_path: Path) -> None:
    order = load(template_path).creation_order(["Queue", "DeadLetters", "Table"])
    assert order.index("DeadLetters") < order.index("Queue")


def test_api_routes_and_sqs_mapping(template_path: Path) -> None:
    model = build_model(load(template_path))
    api = model.apis["Api"]
    assert api.stage == "prod"
    assert [(r.method, r.path, r.authorizer) for r in api.routes] == [("GET", "/things/{id}", None)]
    (mapping,) = model.sqs_mappings
    assert mapping.queue == "Queue" and mapping.batch_size == 7 and mapping.report_batch_item_failures


def test_parameters_are_validated(template_path: Path) -> None:
    with pytest.raises(TemplateError, match="is not one of"):
        load(template_path, Mode="huge")
    with pytest.raises(TemplateError, match="MaxValue"):
        load(template_path, Ttl="9999")
    with pytest.raises(TemplateError, match="not a number"):
        load(template_path, Ttl="soon")
    with pytest.raises(TemplateError, match="does not match"):
        load(template_path, Stage="Prod-1")
    with pytest.raises(TemplateError, match="unknown parameter"):
        load(template_path, Nope="1")
    assert load(template_path, Ttl="0").parameters["Ttl"] == "0"


def test_unknown_references_fail_loudly(template_path: Path) -> None:
    template = load(template_path)
    with pytest.raises(TemplateError):
        template.resolve({"Ref": "Missing"})
    with pytest.raises(TemplateError):
        template.resolve({"Fn::GetAtt": ["Table", "Nope"]})
    for unsupported in ({"Fn::ImportValue": "x"}, {"Fn::Join": ["", ["a"]]}, {"Fn::FindInMap": ["M", "a", "b"]}):
        with pytest.raises(TemplateError, match="not supported by the local stack"):
            template.resolve(unsupported)
    assert template.resolve({"Ref": "AWS::NoValue"}) is NO_VALUE
    assert template.resolve([1, {"Ref": "AWS::NoValue"}, 2]) == [1, 2]


def test_long_form_intrinsics(template_path: Path) -> None:
    template = load(template_path)
    assert template.resolve({"Fn::Sub": "${AWS::StackName}-${Stage}"}) == "st-prod"
    assert template.resolve({"Fn::GetAtt": "Queue.Arn"}) == "arn:aws:sqs:us-east-1:123456789012:st-Queue"
    assert template.resolve({"Fn::If": ["IsFull", 1, 2]}) == 2


def test_the_project_template_resolves() -> None:
    root = Path(__file__).resolve().parents[2]
    template = Template(root / "template.yaml")
    model = build_model(template)
    assert "KeysTableName" in template.outputs()
    assert model.functions["AuthorizerFunction"].layer_dirs[0] == root / "layers" / "common"
    api = next(iter(model.apis.values()))
    assert api.authorizers and api.default_authorizer in api.authorizers
    assert any(r.authorizer is None for r in api.routes)  # public routes


def test_the_project_image_function_runs_its_task_root_from_the_source_tree() -> None:
    root = Path(__file__).resolve().parents[2]
    model = build_model(Template(root / "template.yaml"))
    documents = model.functions["DocumentsFunction"]
    assert documents.code_dir == root / "functions" / "documents"
    assert documents.handler == "app.handler"
    assert documents.layer_dirs == (root / "layers" / "common",)  # IgnoreGlobals: no CommonLayer besides
    assert documents.timeout_seconds == 300
    assert model.functions["DocumentsDeadLetterFunction"].handler == "app.dead_letter_handler"
    polled = {m.function: m.queue for m in model.sqs_mappings}
    assert polled["DocumentsFunction"] == "DocumentsQueue"
    assert polled["DocumentsDeadLetterFunction"] == "DocumentsDeadLetterQueue"


IMAGE_TEMPLATE = textwrap.dedent(
    """
    Transform: AWS::Serverless-2016-10-31
    Globals:
      Function:
        Runtime: python3.13
        Timeout: 10
        Layers: [!Ref Shared]
    Resources:
      Shared:
        Type: AWS::Serverless::LayerVersion
        Properties: {ContentUri: layers/shared}
      Img:
        Type: AWS::Serverless::Function
        IgnoreGlobals: [Runtime, Layers]
        Properties:
          PackageType: Image
          ImageConfig: {Command: [main.run]}
        Metadata: {Dockerfile: fns/img/Dockerfile, DockerContext: ., DockerTag: t}
    """
)


def test_an_image_function_reads_its_dockerfile_and_ignores_the_globals_it_names(tmp_path: Path) -> None:
    for folder in ("layers/shared", "fns/img", "pkgs/lib"):
        (tmp_path / folder).mkdir(parents=True)
    (tmp_path / "fns/img/Dockerfile").write_text(
        "FROM debian:bookworm-slim\n"
        "# build inputs, before the task root exists\n"
        "COPY list.txt /tmp/list.txt\n"
        "RUN xargs echo \\\n    < /tmp/list.txt\n"
        "WORKDIR /var/task\n"
        "COPY pkgs/lib/mylib ./mylib\n"
        "COPY fns/img/ ./\n"
    )
    path = tmp_path / "template.yaml"
    path.write_text(IMAGE_TEMPLATE)
    template = load(path)
    assert "Runtime" not in template.properties("Img") and "Layers" not in template.properties("Img")
    assert template.properties("Img")["Timeout"] == 10  # the globals it does not name still apply
    spec = build_model(template).functions["Img"]
    assert (spec.code_dir, spec.handler, spec.layer_dirs) == (
        tmp_path / "fns/img",
        "main.run",
        (tmp_path / "pkgs/lib",),
    )

    (tmp_path / "fns/img/Dockerfile").write_text("FROM debian:bookworm-slim\nWORKDIR /var/task\nCOPY x.py ./x.py\n")
    with pytest.raises(TemplateError, match="no task root"):
        build_model(load(path))
    path.write_text(IMAGE_TEMPLATE.replace("ImageConfig: {Command: [main.run]}", "ImageConfig: {EntryPoint: [x]}"))
    with pytest.raises(TemplateError, match="ImageConfig EntryPoint is not emulated"):
        build_model(load(path))


def test_loader_long_forms_plain_types_and_duplicate_keys(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text(
        textwrap.dedent(
            """
            Resources:
              R:
                Type: AWS::SQS::Queue
                Properties:
                  A: !GetAtt [X, Arn]
                  B: !GetAtt X.Y.Z
                  C: !Not [!Condition D]
                  E: !Transform {Name: x, Parameters: {a: !Ref b}}
            """
        )
    )
    properties = load_template_file(path)["Resources"]["R"]["Properties"]
    assert properties == {
        "A": {"Fn::GetAtt": ["X", "Arn"]},
        "B": {"Fn::GetAtt": ["X", "Y.Z"]},
        "C": {"Fn::Not": [{"Condition": "D"}]},
        "E": {"Fn::Transform": {"Name": "x", "Parameters": {"a": {"Ref": "b"}}}},
    }
    assert type(properties["A"]["Fn::GetAtt"][0]) is str  # not the loader's marked str
    path.write_text("Resources:\n  R: {Type: AWS::SQS::Queue}\n  R: {Type: AWS::SNS::Topic}\n")
    with pytest.raises(TemplateError, match="Duplicate"):
        load_template_file(path)


def test_only_request_authorizers_are_emulated(template_path: Path) -> None:
    text = template_path.read_text().replace(
        "Properties: {StageName: !Ref Stage}",
        "Properties: {StageName: !Ref Stage, Auth: {Authorizers: {Tok: {FunctionArn: !GetAtt Fn2.Arn}}}}",
    )
    template_path.write_text(text)
    with pytest.raises(TemplateError, match="only REQUEST authorizers"):
        build_model(load(template_path))
