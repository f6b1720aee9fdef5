"""Reading template.yaml: the features it uses, and a loud refusal of any other.

`SUPPORTED` below is the whole of what the local stack understands: resource types (those it creates or
runs, with every property it knows, and those it knowingly skips), function event types, intrinsics and
resource attributes. `Template` refuses, when it is read, a template that uses anything else, so a new
feature in template.yaml fails `make dev` and the tests until it is emulated (tests/local/test_local_template.py).

Physical names are CloudFormation's, minus the random suffix: `<stack-name>-<LogicalId>`.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"
UNKNOWN_STREAM_LABEL = "1970-01-01T00:00:00.000"  # a table stream's label before the table exists


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
SKIPPED_RESOURCES = frozenset(
    f"AWS::{name}"
    for name in _names(
        "ApiGateway::Account ApiGateway::BasePathMapping ApiGateway::DomainName CloudFormation::WaitConditionHandle "
        "CloudWatch::Alarm CloudWatch::Dashboard IAM::Role Logs::LogGroup Logs::MetricFilter S3::BucketPolicy "
        "SNS::Subscription SNS::Topic WAFv2::WebACL WAFv2::WebACLAssociation"
    )
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
RESOURCE_ATTRIBUTES = _names(
    "Type Properties Condition DependsOn Metadata IgnoreGlobals DeletionPolicy UpdateReplacePolicy"
)
SECTIONS = _names(
    "AWSTemplateFormatVersion Transform Description Parameters Conditions Rules Globals Resources Outputs"
)
SUPPORTED = {"resources": EMULATED_RESOURCES, "skipped": SKIPPED_RESOURCES, "events": EVENTS, "intrinsics": INTRINSICS}


class TemplateError(Exception):
    """The template cannot be read, or uses what the local stack does not emulate."""


class _NoValue:
    """AWS::NoValue: removes the property (or list item) it stands in."""

    def __repr__(self) -> str:
        return "AWS::NoValue"


NO_VALUE = _NoValue()


def load_template_file(path: Path) -> dict[str, Any]:
    """The template as plain dicts and lists, short forms (!Ref, !GetAtt A.B, !Sub...) in their long forms
    (cfn-lint's loader, which also refuses duplicate keys)."""
    from cfnlint.decode.cfn_yaml import loads  # ~2 s to import: LocalStack reads the template while moto starts

    try:
        data = _plain(loads(path.read_text(encoding="utf-8"), str(path)))
    except yaml.YAMLError as exc:
        raise TemplateError(f"{path}: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("Resources"), dict):
        raise TemplateError(f"{path}: not a CloudFormation template (no Resources)")
    return data


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return str(value) if isinstance(value, str) else value


def unsupported(raw: Mapping[str, Any]) -> list[str]:
    """Every use of a feature outside SUPPORTED, as `where: what` lines (empty: the stack can run it)."""
    found = [f"section {s}" for s in sorted(set(raw) - SECTIONS)]
    globals_section = raw.get("Globals") or {}
    found += [f"Globals.{s}" for s in sorted(set(globals_section) - {"Function"})]
    found += [f"Globals.Function.{p}" for p in sorted(set(globals_section.get("Function") or {}) - FUNCTION_PROPERTIES)]
    for logical_id, resource in raw["Resources"].items():
        kind = resource.get("Type")
        found += [f"{logical_id}: attribute {a}" for a in sorted(set(resource) - RESOURCE_ATTRIBUTES)]
        if kind in EMULATED_RESOURCES:
            properties = resource.get("Properties") or {}
            found += [f"{logical_id}: {kind} property {p}" for p in sorted(set(properties) - EMULATED_RESOURCES[kind])]
            for name, event in (properties.get("Events") or {}).items():
                known = EVENTS.get(event.get("Type"))
                if known is None:
                    found.append(f"{logical_id}.{name}: event type {event.get('Type')}")
                else:
                    found += [
                        f"{logical_id}.{name}: {event['Type']} event property {p}"
                        for p in sorted(set(event.get("Properties") or {}) - known)
                    ]
        elif kind not in SKIPPED_RESOURCES:
            found.append(f"{logical_id}: resource type {kind}")
    found += [f"intrinsic {name}" for name in sorted(_intrinsics(raw) - INTRINSICS)]
    return found


def _intrinsics(value: Any) -> set[str]:
    names: set[str] = set()
    if isinstance(value, dict):
        if len(value) == 1 and (next(iter(value)) == "Ref" or next(iter(value)).startswith("Fn::")):
            names.add(next(iter(value)))
        for item in value.values():
            names |= _intrinsics(item)
    elif isinstance(value, list):
        for item in value:
            names |= _intrinsics(item)
    return names


@dataclass
class PhysicalResource:
    """What a resource is called once deployed: its Ref value and its GetAtt attributes."""

    logical_id: str
    type: str
    ref: Any
    name: str | None = None
    arn: str | None = None
    url: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"type": self.type, "ref": self.ref}
        data.update({key: getattr(self, key) for key in ("name", "arn", "url") if getattr(self, key) is not None})
        return data


def api_id_for(stack_name: str, logical_id: str) -> str:
    """A stable, real-looking REST API id: 10 characters of [a-z0-9]."""
    digest = hashlib.sha256(f"{stack_name}/{logical_id}".encode()).digest()
    return "".join("abcdefghijklmnopqrstuvwxyz0123456789"[b % 36] for b in digest[:10])


_SUB_VARIABLE = re.compile(r"\$\{([^}]*)\}")


class Template:
    """template.yaml with its parameters bound: resolves intrinsics and names resources.

    `moto_endpoint` is needed because a queue's Ref is its URL, and a queue URL names the SQS endpoint.
    """

    def __init__(
        self,
        path: Path | str,
        *,
        stack_name: str = "filegate-local",
        parameter_overrides: Mapping[str, str] | None = None,
        moto_endpoint: str = "http://127.0.0.1:4566",
    ) -> None:
        self.path = Path(path).resolve()
        self.base_dir = self.path.parent
        self.raw = load_template_file(self.path)
        problems = unsupported(self.raw)
        if problems:
            raise TemplateError(f"{self.path} uses what the local stack does not emulate:\n  " + "\n  ".join(problems))
        self.stack_name = stack_name
        self.region, self.account_id = REGION, ACCOUNT_ID
        self.moto_endpoint = moto_endpoint.rstrip("/")
        self.parameters = self._bind_parameters(dict(parameter_overrides or {}))
        self._physical: dict[str, PhysicalResource] = {}
        self.resources = self._effective_resources()

    def _bind_parameters(self, overrides: dict[str, str]) -> dict[str, str]:
        declared: dict[str, Any] = self.raw.get("Parameters") or {}
        unknown = set(overrides) - set(declared)
        if unknown:
            raise TemplateError(f"unknown parameter(s): {', '.join(sorted(unknown))}")
        values: dict[str, str] = {}
        for name, spec in declared.items():
            value = str(overrides.get(name, spec.get("Default", "")))
            allowed = [str(v) for v in spec.get("AllowedValues") or [value]]
            number_ok = spec.get("Type") != "Number" or re.fullmatch(r"-?\d+(\.\d+)?", value) is not None
            if value not in allowed or not number_ok or not re.fullmatch(str(spec.get("AllowedPattern", ".*")), value):
                raise TemplateError(f"parameter {name}={value!r} is not allowed by the template")
            low, high = float(spec.get("MinValue", "-inf")), float(spec.get("MaxValue", "inf"))
            if number_ok and spec.get("Type") == "Number" and not low <= float(value) <= high:
                raise TemplateError(f"parameter {name}={value} is outside [MinValue, MaxValue]")
            values[name] = value
        return values

    def condition(self, name: str) -> bool:
        return self._evaluate_condition((self.raw.get("Conditions") or {})[name])

    def _evaluate_condition(self, expression: Any) -> bool:
        ((key, args),) = expression.items()
        if key == "Fn::Not":
            return not self._evaluate_condition(args[0])
        if key == "Fn::Equals":
            left, right = (self.resolve(a) for a in args)
            return str(left) == str(right)
        return self.condition(str(args))  # {"Condition": name}

    def _effective_resources(self) -> dict[str, dict[str, Any]]:
        """Resources whose Condition holds, functions with SAM's Globals merged in (less what IgnoreGlobals names)."""
        function_globals: dict[str, Any] = (self.raw.get("Globals") or {}).get("Function") or {}
        resources: dict[str, dict[str, Any]] = {}
        for logical_id, resource in self.raw["Resources"].items():
            if "Condition" in resource and not self.condition(str(resource["Condition"])):
                continue
            resource = dict(resource)
            if resource["Type"] == "AWS::Serverless::Function":
                ignored = set(resource.get("IgnoreGlobals") or [])
                defaults = {k: v for k, v in function_globals.items() if k not in ignored}
                resource["Properties"] = merge_globals(defaults, resource.get("Properties") or {})
            resources[logical_id] = resource
        return resources

    def resource_type(self, logical_id: str) -> str:
        return str(self.resources[logical_id]["Type"])

    def of_type(self, *types: str) -> list[str]:
        return [lid for lid, r in self.resources.items() if r["Type"] in types]

    def raw_properties(self, logical_id: str) -> dict[str, Any]:
        return dict(self.resources[logical_id].get("Properties") or {})

    def properties(self, logical_id: str) -> dict[str, Any]:
        resolved = self.resolve(self.raw_properties(logical_id))
        return resolved if isinstance(resolved, dict) else {}

    def creation_order(self, logical_ids: Iterable[str]) -> list[str]:
        """The given resources, each after those of them it refers to (a dead-letter queue before its queue)."""
        wanted = list(logical_ids)
        ordered: list[str] = []

        def visit(logical_id: str, path: tuple[str, ...]) -> None:
            if logical_id in path:
                raise TemplateError(f"circular dependency involving {logical_id}")
            for dependency in sorted(self._references(self.resources[logical_id]) & set(wanted) - {logical_id}):
                visit(dependency, (*path, logical_id))
            if logical_id not in ordered:
                ordered.append(logical_id)

        for logical_id in wanted:
            visit(logical_id, ())
        return ordered

    def _references(self, value: Any) -> set[str]:
        if isinstance(value, list):
            return set().union(*(self._references(v) for v in value))
        if not isinstance(value, dict):
            return set()
        found = set().union(*(self._references(v) for v in value.values()))
        if "Ref" in value and isinstance(value["Ref"], str):
            found.add(value["Ref"])
        if "Fn::GetAtt" in value:
            target = value["Fn::GetAtt"]
            found.add(str(target.split(".")[0] if isinstance(target, str) else target[0]))
        return found

    # ------------------------------------------------------------------ physical names

    def physical(self, logical_id: str) -> PhysicalResource:
        if logical_id not in self.resources:
            raise TemplateError(f"unknown resource {logical_id}")
        if logical_id not in self._physical:
            self._physical[logical_id] = self._name_resource(logical_id)
        return self._physical[logical_id]

    def _name_resource(self, logical_id: str) -> PhysicalResource:
        kind = self.resource_type(logical_id)
        name = f"{self.stack_name}-{logical_id}"
        prefix = f"arn:aws:{kind.split('::')[1].lower()}:{self.region}:{self.account_id}"
        if kind == "AWS::DynamoDB::Table":
            arn = f"{prefix}:table/{name}"
            attributes = {"Arn": arn}
            if self.raw_properties(logical_id).get("StreamSpecification"):
                # A stream's label is its creation time: the provisioner records the real ARN (record_attribute).
                attributes["StreamArn"] = f"{arn}/stream/{UNKNOWN_STREAM_LABEL}"
            return PhysicalResource(logical_id, kind, name, name=name, arn=arn, attributes=attributes)
        if kind == "AWS::S3::Bucket":
            bucket = re.sub(r"[^a-z0-9.-]", "-", name.lower()).strip("-.")[:63]  # S3's rules for a name
            arn = f"arn:aws:s3:::{bucket}"
            return PhysicalResource(logical_id, kind, bucket, name=bucket, arn=arn, attributes={"Arn": arn})
        if kind == "AWS::SQS::Queue":
            arn, url = f"{prefix}:{name}", f"{self.moto_endpoint}/{self.account_id}/{name}"
            attributes = {"Arn": arn, "QueueName": name, "QueueUrl": url}
            return PhysicalResource(logical_id, kind, url, name=name, arn=arn, url=url, attributes=attributes)
        if kind == "AWS::Serverless::Function":
            arn = f"arn:aws:lambda:{self.region}:{self.account_id}:function:{name}"
            return PhysicalResource(logical_id, kind, name, name=name, arn=arn, attributes={"Arn": arn})
        if kind == "AWS::Serverless::LayerVersion":
            name = str(self.resolve(self.raw_properties(logical_id).get("LayerName", name)))
            arn = f"arn:aws:lambda:{self.region}:{self.account_id}:layer:{name}:1"
            return PhysicalResource(logical_id, kind, arn, name=name, arn=arn, attributes={"Arn": arn})
        if kind == "AWS::Serverless::Api":
            api_name = str(self.resolve(self.raw_properties(logical_id).get("Name", name)))
            return PhysicalResource(logical_id, kind, api_id_for(self.stack_name, logical_id), name=api_name)
        # A skipped type: a plausible name, so references to it resolve.
        return PhysicalResource(
            logical_id, kind, name, name=name, arn=f"{prefix}:{name}", attributes={"Arn": f"{prefix}:{name}"}
        )

    def record_attribute(self, logical_id: str, attribute: str, value: Any) -> None:
        """An attribute known only once the resource exists (a table's StreamArn), for later resolutions."""
        self.physical(logical_id).attributes[attribute] = value

    def get_att(self, logical_id: str, attribute: str) -> Any:
        resource = self.physical(logical_id)
        if attribute not in resource.attributes:
            raise TemplateError(f"!GetAtt {logical_id}.{attribute}: attribute not known for {resource.type}")
        return resource.attributes[attribute]

    # ------------------------------------------------------------------ intrinsics

    def ref(self, name: str) -> Any:
        pseudo = {"AWS::Region": self.region, "AWS::AccountId": self.account_id, "AWS::StackName": self.stack_name,
                  "AWS::Partition": "aws", "AWS::URLSuffix": "amazonaws.com", "AWS::NoValue": NO_VALUE}  # fmt: skip
        if name in pseudo:
            return pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        if name in self.resources:
            return self.physical(name).ref
        raise TemplateError(f"!Ref to unknown name {name}")

    def resolve(self, value: Any) -> Any:
        """Every intrinsic in value resolved; AWS::NoValue entries dropped."""
        if isinstance(value, list):
            return [r for r in (self.resolve(i) for i in value) if r is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, args),) = value.items()
            if key == "Ref":
                return self.ref(str(args))
            if key == "Fn::GetAtt":
                logical_id, attribute = args.split(".", 1) if isinstance(args, str) else args
                return self.get_att(str(logical_id), str(attribute))
            if key == "Fn::Sub":
                if not isinstance(args, str):
                    raise TemplateError("!Sub takes a string here (its list form is not emulated)")
                return _SUB_VARIABLE.sub(lambda m: self._sub_variable(m.group(1).strip()), str(args))
            if key == "Fn::If":
                name, when_true, when_false = args
                return self.resolve(when_true if self.condition(str(name)) else when_false)
            if key in ("Fn::Equals", "Fn::Not"):
                return self._evaluate_condition(value)
        resolved = {key: self.resolve(item) for key, item in value.items()}
        return {key: item for key, item in resolved.items() if item is not NO_VALUE}

    def _sub_variable(self, name: str) -> str:
        if name.startswith("!"):
            return "${" + name[1:] + "}"
        logical_id, _, attribute = name.partition(".")
        value = self.get_att(logical_id, attribute) if attribute and logical_id in self.resources else self.ref(name)
        return str(value).lower() if isinstance(value, bool) else str(value)

    def outputs(self) -> dict[str, Any]:
        return {
            name: self.resolve(output.get("Value"))
            for name, output in (self.raw.get("Outputs") or {}).items()
            if "Condition" not in output or self.condition(str(output["Condition"]))
        }

    def physical_resources(self) -> dict[str, PhysicalResource]:
        return {lid: self.physical(lid) for lid in self.resources}

    def resolve_path(self, relative: str) -> Path:
        """A CodeUri/ContentUri, relative to the template's directory."""
        return (self.base_dir / relative).resolve()


def merge_globals(global_value: Any, local_value: Any) -> Any:
    """SAM's Globals merge: maps merge key by key, lists add up (globals first), anything else overrides."""
    if isinstance(global_value, dict) and isinstance(local_value, dict):
        if any(len(v) == 1 and next(iter(v)) in INTRINSICS for v in (global_value, local_value)):
            return local_value
        merged = dict(global_value)
        for key, value in local_value.items():
            merged[key] = merge_globals(global_value[key], value) if key in global_value else value
        return merged
    if isinstance(global_value, list) and isinstance(local_value, list):
        return [*global_value, *local_value]
    return local_value
