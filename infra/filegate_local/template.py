"""Reading template.yaml: the features it uses, and a loud refusal of any other.

`SUPPORTED` is all the local stack understands: the resource types it creates or runs (with the properties it
knows), those it knowingly skips, function event types (with theirs) and intrinsics. `Template` refuses a template
using anything else, so a new feature in template.yaml fails `make dev` and tests/local/test_local_template.py
until it is emulated. Physical names are CloudFormation's, minus the random suffix: `<stack-name>-<LogicalId>`."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

import yaml

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"


def _names(words: str) -> frozenset[str]:
    return frozenset(words.split())


FUNCTION_PROPERTIES = _names(
    "AutoPublishAlias Architectures CodeUri Description Environment EphemeralStorage Events Handler ImageConfig "
    "Layers LoggingConfig MemorySize PackageType Policies ReservedConcurrentExecutions Runtime SnapStart Timeout "
    "Tracing"
)
# Resource types the local stack creates or runs -> the properties it knows (reads, or knows not to matter).
EMULATED_RESOURCES: dict[str, frozenset[str]] = {
    "AWS::Serverless::Function": FUNCTION_PROPERTIES,
    "AWS::Serverless::Api": _names(
        "AccessLogSetting Auth BinaryMediaTypes GatewayResponses MethodSettings Name StageName TracingEnabled"
    ),
    "AWS::Serverless::LayerVersion": _names(
        "CompatibleArchitectures CompatibleRuntimes ContentUri Description LayerName RetentionPolicy"
    ),
    "AWS::DynamoDB::Table": _names(
        "AttributeDefinitions BillingMode GlobalSecondaryIndexes KeySchema PointInTimeRecoverySpecification "
        "SSESpecification StreamSpecification TimeToLiveSpecification"
    ),
    "AWS::S3::Bucket": _names(
        "BucketEncryption CorsConfiguration LifecycleConfiguration OwnershipControls PublicAccessBlockConfiguration"
    ),
    "AWS::SQS::Queue": _names("MessageRetentionPeriod RedrivePolicy SqsManagedSseEnabled VisibilityTimeout"),
}
# Resource types that only matter in AWS (monitoring, permissions, the edge): named, never created.
SKIPPED_RESOURCES = _names(
    "AWS::ApiGateway::Account AWS::ApiGateway::BasePathMapping AWS::ApiGateway::DomainName AWS::CloudWatch::Alarm "
    "AWS::CloudFormation::WaitConditionHandle AWS::CloudWatch::Dashboard AWS::IAM::Role AWS::Logs::LogGroup "
    "AWS::Logs::MetricFilter AWS::S3::BucketPolicy AWS::SNS::Subscription AWS::SNS::Topic AWS::WAFv2::WebACL "
    "AWS::WAFv2::WebACLAssociation"
)
# Function event types -> the properties the local stack reads (filegate_local.model).
EVENTS: dict[str, frozenset[str]] = {
    "Api": _names("Auth Method Path RestApiId"),
    "SQS": _names("BatchSize FunctionResponseTypes MaximumBatchingWindowInSeconds Queue"),
    "DynamoDB": _names(
        "BatchSize BisectBatchOnFunctionError FilterCriteria FunctionResponseTypes MaximumBatchingWindowInSeconds "
        "MaximumRetryAttempts StartingPosition Stream"
    ),
    "CloudWatchLogs": _names("FilterPattern LogGroupName"),
}
INTRINSICS = _names("Ref Fn::GetAtt Fn::Sub Fn::If Fn::Equals Fn::Not")
SUPPORTED = {"resources": EMULATED_RESOURCES, "skipped": SKIPPED_RESOURCES, "events": EVENTS, "intrinsics": INTRINSICS}
NO_VALUE: Any = object()  # AWS::NoValue: removes the property (or list item) it stands in


class TemplateError(Exception):
    """The template cannot be read, or uses what the local stack does not emulate."""


def load_template_file(path: Path) -> dict[str, Any]:
    """The template as plain dicts, lists and strs (not the loader's marked ones), short forms (!Ref, !GetAtt A.B,
    !Sub...) in their long forms: cfn-lint's loader, which also refuses duplicate keys."""
    from cfnlint.decode.cfn_yaml import loads  # ~2 s to import: LocalStack reads the template while moto starts

    try:
        return dict(json.loads(json.dumps(loads(path.read_text(encoding="utf-8"), str(path)), default=str)))
    except yaml.YAMLError as exc:
        raise TemplateError(f"{path}: {exc}") from exc


def intrinsics_in(value: Any) -> set[str]:
    return set(re.findall(r'(?<!\\)"(Ref|Fn::\w+)": ', json.dumps(value)))  # the keys, not a string's quotes


def unsupported(raw: Mapping[str, Any]) -> list[str]:
    """Every use of a feature outside SUPPORTED, as `where: what` lines (empty: the stack can run it)."""
    globals_section = raw.get("Globals") or {}
    found = _beyond("Globals.", globals_section, {"Function"})
    found += _beyond("Globals.Function.", globals_section.get("Function"), FUNCTION_PROPERTIES)
    for logical_id, resource in raw["Resources"].items():
        kind, properties = resource["Type"], resource.get("Properties") or {}
        if kind not in EMULATED_RESOURCES:
            found += [] if kind in SKIPPED_RESOURCES else [f"{logical_id}: resource type {kind}"]
            continue
        found += _beyond(f"{logical_id}: {kind} property ", properties, EMULATED_RESOURCES[kind])
        for name, event in (properties.get("Events") or {}).items():
            where, kind = f"{logical_id}.{name}", event["Type"]
            found += _beyond(f"{where}: {kind} event property ", event.get("Properties"), EVENTS.get(kind, {}))
            found += [] if kind in EVENTS else [f"{where}: event type {kind}"]
    return found + _beyond("intrinsic ", intrinsics_in(raw), INTRINSICS)


def _beyond(where: str, used: Any, known: Any) -> list[str]:
    return [f"{where}{name}" for name in sorted(set(used or ()) - set(known))]


class PhysicalResource(NamedTuple):  # a resource as deployed: its Ref value, its name and its GetAtt attributes
    ref: Any
    name: str
    attributes: dict[str, Any]


class Template:
    """template.yaml with its parameters bound: resolves intrinsics and names resources (a queue's Ref is its URL,
    which names the SQS endpoint: `moto_endpoint`)."""

    def __init__(
        self,
        path: Path | str,
        *,
        stack_name: str = "filegate-local",
        parameter_overrides: Mapping[str, str] | None = None,
        moto_endpoint: str = "http://127.0.0.1:4566",
    ) -> None:
        self.path = Path(path).resolve()
        self.base_dir, self.raw = self.path.parent, load_template_file(self.path)
        problems = unsupported(self.raw)
        if problems:
            raise TemplateError(f"{self.path} uses what the local stack does not emulate:\n  " + "\n  ".join(problems))
        self.stack_name, self.region, self.account_id = stack_name, REGION, ACCOUNT_ID
        self.moto_endpoint = moto_endpoint.rstrip("/")
        declared, overrides = self.raw.get("Parameters") or {}, dict(parameter_overrides or {})
        self.parameters = {name: str(overrides.pop(name, spec.get("Default", ""))) for name, spec in declared.items()}
        if overrides:
            raise TemplateError(f"unknown parameter(s): {', '.join(sorted(overrides))}")
        for name, value in self.parameters.items():
            if value not in map(str, declared[name].get("AllowedValues") or [value]):
                raise TemplateError(f"parameter {name}={value!r} is not one of its AllowedValues")
        pseudo = {"AWS::Region": REGION, "AWS::AccountId": ACCOUNT_ID, "AWS::StackName": stack_name}
        pseudo.update({"AWS::Partition": "aws", "AWS::URLSuffix": "amazonaws.com", "AWS::NoValue": NO_VALUE})
        self.values = {**pseudo, **self.parameters}  # what a Ref to a name that is no resource's gives
        self._physical: dict[str, PhysicalResource] = {}
        # Resources whose Condition holds; functions with SAM's Globals merged in, less what IgnoreGlobals names.
        function_globals = (self.raw.get("Globals") or {}).get("Function") or {}
        self.resources: dict[str, dict[str, Any]] = {}
        for logical_id, resource in self.raw["Resources"].items():
            if "Condition" in resource and not self.condition(resource["Condition"]):
                continue
            self.resources[logical_id] = resource = dict(resource)
            if resource["Type"] == "AWS::Serverless::Function":
                defaults = {k: v for k, v in function_globals.items() if k not in (resource.get("IgnoreGlobals") or [])}
                resource["Properties"] = merge_globals(defaults, resource.get("Properties") or {})

    def condition(self, name: str) -> bool:
        return bool(self.resolve(self.raw["Conditions"][name]))

    def of_type(self, *types: str) -> list[str]:
        return [lid for lid, r in self.resources.items() if r["Type"] in types]

    def raw_properties(self, logical_id: str) -> dict[str, Any]:
        return dict(self.resources[logical_id].get("Properties") or {})

    def properties(self, logical_id: str) -> dict[str, Any]:
        return dict(self.resolve(self.raw_properties(logical_id)))

    def physical(self, logical_id: str) -> PhysicalResource:
        if logical_id in self._physical:
            return self._physical[logical_id]
        kind, props = self.resources[logical_id]["Type"], self.raw_properties(logical_id)
        ref = name = f"{self.stack_name}-{logical_id}"
        arn = f"arn:aws:{kind.split('::')[1].lower()}:{REGION}:{ACCOUNT_ID}:{name}"  # a queue's, a skipped type's
        attributes: dict[str, Any] = {}
        if kind == "AWS::DynamoDB::Table":
            arn = f"arn:aws:dynamodb:{REGION}:{ACCOUNT_ID}:table/{name}"
            if props.get("StreamSpecification"):  # its label is its creation time: resources.py records the real one
                attributes["StreamArn"] = f"{arn}/stream/1970-01-01T00:00:00.000"
        elif kind == "AWS::S3::Bucket":
            ref = name = re.sub(r"[^a-z0-9.-]", "-", name.lower()).strip("-.")[:63]  # S3's rules for a name
            arn = f"arn:aws:s3:::{name}"
        elif kind == "AWS::SQS::Queue":
            ref = f"{self.moto_endpoint}/{ACCOUNT_ID}/{name}"
            attributes.update(QueueName=name, QueueUrl=ref)
        elif kind == "AWS::Serverless::Function":
            arn = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{name}"
        elif kind == "AWS::Serverless::LayerVersion":
            name = str(self.resolve(props.get("LayerName", name)))
            ref = arn = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:layer:{name}:1"
        elif kind == "AWS::Serverless::Api":  # its Ref: a stable, real-looking REST API id
            name = str(self.resolve(props.get("Name", name)))
            ref = hashlib.sha256(f"{self.stack_name}/{logical_id}".encode()).hexdigest()[:10]
        self._physical[logical_id] = PhysicalResource(ref, name, {"Arn": arn, **attributes})
        return self._physical[logical_id]

    def get_att(self, logical_id: str, attribute: str) -> Any:
        attributes = self.physical(logical_id).attributes
        if attribute not in attributes:
            raise TemplateError(f"!GetAtt {logical_id}.{attribute}: attribute not known locally")
        return attributes[attribute]

    def ref(self, name: str) -> Any:
        if name in self.values:
            return self.values[name]
        if name in self.resources:
            return self.physical(name).ref
        raise TemplateError(f"!Ref to unknown name {name}")

    def resolve(self, value: Any) -> Any:
        """Every intrinsic in value resolved; AWS::NoValue entries dropped."""
        if isinstance(value, list):
            return [r for r in (self.resolve(i) for i in value) if r is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        ((key, args),) = value.items() if len(value) == 1 else ((None, None),)
        if key == "Ref":
            return self.ref(str(args))
        if key == "Fn::GetAtt":
            return self.get_att(*(args.split(".", 1) if isinstance(args, str) else args))
        if key == "Fn::Sub":
            if not isinstance(args, str):
                raise TemplateError("!Sub takes a string here (its list form is not emulated)")
            variable = r"\$\{([^}]*)\}"  # ${Resource.Attribute} is a GetAtt, ${Name} a Ref
            return re.sub(variable, lambda m: str(self.resolve({"Fn::GetAtt" if "." in m[1] else "Ref": m[1]})), args)
        if key == "Fn::If":
            return self.resolve(args[1] if self.condition(args[0]) else args[2])
        if key == "Fn::Equals":
            return str(self.resolve(args[0])) == str(self.resolve(args[1]))
        if key == "Fn::Not":
            return not self.resolve(args[0])
        resolved = {key: self.resolve(item) for key, item in value.items()}
        return {key: item for key, item in resolved.items() if item is not NO_VALUE}

    def outputs(self) -> dict[str, Any]:
        return {
            name: self.resolve(output.get("Value"))
            for name, output in (self.raw.get("Outputs") or {}).items()
            if "Condition" not in output or self.condition(output["Condition"])
        }


def merge_globals(global_value: Any, local_value: Any) -> Any:
    """SAM's Globals merge: maps (not intrinsics) merge key by key, lists add up, anything else overrides."""
    if isinstance(global_value, list) and isinstance(local_value, list):
        return [*global_value, *local_value]
    maps = isinstance(global_value, dict) and isinstance(local_value, dict)
    if not maps or INTRINSICS & {*global_value, *local_value}:
        return local_value
    merged = {k: merge_globals(global_value[k], v) if k in global_value else v for k, v in local_value.items()}
    return {**global_value, **merged}
