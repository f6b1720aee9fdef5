"""Reading a SAM/CloudFormation template: short-form tags, SAM Globals, conditions and intrinsic functions.

`Template` is the one place that turns template.yaml into concrete values for the local stack: physical
names, ARNs and URLs of resources, resolved properties and outputs. Physical values are derived
deterministically (`<stack-name>-<LogicalId>` unless the template names the resource), the way
CloudFormation would name them, minus the random suffix.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"
PARTITION = "aws"
URL_SUFFIX = "amazonaws.com"
UNKNOWN_STREAM_LABEL = "1970-01-01T00:00:00.000"  # a table stream's label before the table exists

FUNCTION_TYPES = ("AWS::Serverless::Function", "AWS::Lambda::Function")
API_TYPES = ("AWS::Serverless::Api",)
LAYER_TYPES = ("AWS::Serverless::LayerVersion", "AWS::Lambda::LayerVersion")

# SAM Globals section -> the resource type it applies to.
GLOBALS_SECTIONS = {"Function": "AWS::Serverless::Function", "Api": "AWS::Serverless::Api"}


class TemplateError(Exception):
    """The template cannot be read or resolved."""


class _NoValue:
    """AWS::NoValue: removes the property (or list item) it stands in."""

    _instance: _NoValue | None = None

    def __new__(cls) -> _NoValue:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "AWS::NoValue"


NO_VALUE = _NoValue()


# --------------------------------------------------------------------------------------------- loading


def load_template_file(path: Path) -> dict[str, Any]:
    """Parse a YAML or JSON template into plain dicts and lists, short forms (!Ref, !GetAtt A.B, !Sub,
    !Condition...) turned into their long forms by cfn-lint's loader, which also refuses duplicate keys."""
    from cfnlint.decode.cfn_yaml import loads  # ~2 s to import: LocalStack reads the template while moto starts

    try:
        data = _plain(loads(path.read_text(encoding="utf-8"), str(path)))
    except yaml.YAMLError as exc:  # cfn-lint's CfnParseError included
        raise TemplateError(f"{path}: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("Resources"), dict):
        raise TemplateError(f"{path}: not a CloudFormation template (no Resources)")
    return data


def _plain(value: Any) -> Any:
    """cfn-lint's str/dict/list subclasses (they carry line marks) as the built-in types."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, str):
        return str(value)
    return value


# --------------------------------------------------------------------------------------------- globals


def _is_intrinsic(value: Any) -> bool:
    if not isinstance(value, dict) or len(value) != 1:
        return False
    key = str(next(iter(value)))
    return key in ("Ref", "Condition") or key.startswith("Fn::")


def merge_globals(global_value: Any, local_value: Any) -> Any:
    """SAM's Globals merge: maps merge key by key, lists add up (globals first), anything else overrides."""
    if isinstance(global_value, dict) and isinstance(local_value, dict):
        if _is_intrinsic(global_value) or _is_intrinsic(local_value):
            return local_value
        merged = dict(global_value)
        for key, value in local_value.items():
            merged[key] = merge_globals(global_value[key], value) if key in global_value else value
        return merged
    if isinstance(global_value, list) and isinstance(local_value, list):
        return [*global_value, *local_value]
    return local_value


def _without_ignored(defaults: dict[str, Any] | None, ignored: Any) -> dict[str, Any] | None:
    """A resource's Globals less what its `IgnoreGlobals` attribute names ("*": all of them)."""
    if not defaults or ignored is None:
        return defaults
    if ignored == "*":
        return None
    names = {str(name) for name in ([ignored] if isinstance(ignored, str) else ignored)}
    return {key: value for key, value in defaults.items() if key not in names}


# --------------------------------------------------------------------------------------------- resources


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
        for key in ("name", "arn", "url"):
            if getattr(self, key) is not None:
                data[key] = getattr(self, key)
        return data


def api_id_for(stack_name: str, logical_id: str) -> str:
    """A stable, real-looking REST API id: 10 characters of [a-z0-9]."""
    digest = hashlib.sha256(f"{stack_name}/{logical_id}".encode()).digest()
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    return "".join(alphabet[b % len(alphabet)] for b in digest[:10])


def _bucket_name(raw: str) -> str:
    # S3 names are lower case, 3-63 characters of [a-z0-9.-]; CloudFormation lower-cases generated ones.
    name = re.sub(r"[^a-z0-9.-]", "-", raw.lower()).strip("-.")
    return name[:63]


_SUB_VARIABLE = re.compile(r"\$\{([^}]*)\}")


class Template:
    """A template with its parameters bound: resolves intrinsics and names resources.

    `moto_endpoint` is needed because a queue's Ref is its URL, and a queue URL names the SQS endpoint.
    """

    def __init__(
        self,
        path: Path | str,
        *,
        stack_name: str = "filegate-local",
        parameter_overrides: Mapping[str, str] | None = None,
        moto_endpoint: str = "http://127.0.0.1:4566",
        region: str = REGION,
        account_id: str = ACCOUNT_ID,
    ) -> None:
        self.path = Path(path).resolve()
        self.base_dir = self.path.parent
        self.raw = load_template_file(self.path)
        self.stack_name = stack_name
        self.region = region
        self.account_id = account_id
        self.moto_endpoint = moto_endpoint.rstrip("/")
        self.parameters = self._bind_parameters(dict(parameter_overrides or {}))
        self._condition_cache: dict[str, bool] = {}
        self._physical_cache: dict[str, PhysicalResource] = {}
        self._resolving: set[str] = set()
        self.resources = self._effective_resources()

    # ------------------------------------------------------------------ parameters and conditions

    def _bind_parameters(self, overrides: dict[str, str]) -> dict[str, Any]:
        declared: dict[str, Any] = self.raw.get("Parameters") or {}
        unknown = set(overrides) - set(declared)
        if unknown:
            raise TemplateError(f"unknown parameter(s): {', '.join(sorted(unknown))}")
        values: dict[str, Any] = {}
        for name, spec in declared.items():
            spec = spec or {}
            if name in overrides:
                raw: Any = overrides[name]
            elif "Default" in spec:
                raw = spec["Default"]
            else:
                raise TemplateError(f"parameter {name} has no Default; pass --param {name}=...")
            values[name] = self._check_parameter(name, spec, raw)
        return values

    @staticmethod
    def _check_parameter(name: str, spec: Mapping[str, Any], raw: Any) -> Any:
        kind = str(spec.get("Type", "String"))
        if kind not in ("String", "Number"):
            raise TemplateError(f"parameter {name}: type {kind} is not supported by the local stack")
        value = str(raw).lower() if isinstance(raw, bool) else str(raw)
        if "AllowedValues" in spec and value not in [str(v) for v in spec["AllowedValues"]]:
            raise TemplateError(f"parameter {name}={value!r} is not one of {spec['AllowedValues']}")
        if "AllowedPattern" in spec and not re.fullmatch(str(spec["AllowedPattern"]), value):
            raise TemplateError(f"parameter {name}={value!r} does not match {spec['AllowedPattern']}")
        if kind == "Number":
            try:
                number = float(value)
            except ValueError as exc:
                raise TemplateError(f"parameter {name}={value!r} is not a number") from exc
            if "MinValue" in spec and number < float(spec["MinValue"]):
                raise TemplateError(f"parameter {name}={value} is below MinValue {spec['MinValue']}")
            if "MaxValue" in spec and number > float(spec["MaxValue"]):
                raise TemplateError(f"parameter {name}={value} is above MaxValue {spec['MaxValue']}")
        return value

    def condition(self, name: str) -> bool:
        if name not in self._condition_cache:
            conditions = self.raw.get("Conditions") or {}
            if name not in conditions:
                raise TemplateError(f"unknown condition {name}")
            self._condition_cache[name] = bool(self._evaluate_condition(conditions[name]))
        return self._condition_cache[name]

    def _evaluate_condition(self, expression: Any) -> bool:
        if isinstance(expression, dict) and len(expression) == 1:
            ((key, args),) = expression.items()
            if key == "Condition":
                return self.condition(str(args))
            if key == "Fn::Equals":
                left, right = (self.resolve(a) for a in args)
                return str(left) == str(right)
            if key == "Fn::And":
                return all(self._evaluate_condition(a) for a in args)
            if key == "Fn::Or":
                return any(self._evaluate_condition(a) for a in args)
            if key == "Fn::Not":
                return not self._evaluate_condition(args[0])
        value = self.resolve(expression)
        if isinstance(value, bool):
            return value
        return str(value).lower() == "true"

    # ------------------------------------------------------------------ resources

    def _effective_resources(self) -> dict[str, dict[str, Any]]:
        """Resources whose Condition holds, with SAM Globals applied."""
        globals_section: dict[str, Any] = self.raw.get("Globals") or {}
        by_type = {GLOBALS_SECTIONS[k]: v or {} for k, v in globals_section.items() if k in GLOBALS_SECTIONS}
        resources: dict[str, dict[str, Any]] = {}
        for logical_id, resource in self.raw["Resources"].items():
            if not isinstance(resource, dict) or "Type" not in resource:
                raise TemplateError(f"resource {logical_id} has no Type")
            if "Condition" in resource and not self.condition(str(resource["Condition"])):
                continue
            resource = dict(resource)
            defaults = _without_ignored(by_type.get(resource["Type"]), resource.get("IgnoreGlobals"))
            if defaults:
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

    def dependencies(self, logical_id: str) -> set[str]:
        """Logical ids this resource's properties refer to (Ref, GetAtt, Sub), plus DependsOn."""
        found: set[str] = set()
        resource = self.resources[logical_id]
        depends = resource.get("DependsOn") or []
        found.update([depends] if isinstance(depends, str) else depends)
        self._collect_references(resource.get("Properties") or {}, found)
        return {d for d in found if d in self.resources and d != logical_id}

    def _collect_references(self, value: Any, found: set[str]) -> None:
        if isinstance(value, dict):
            if len(value) == 1:
                ((key, args),) = value.items()
                if key == "Ref" and isinstance(args, str):
                    found.add(args)
                elif key == "Fn::GetAtt":
                    target = args.split(".")[0] if isinstance(args, str) else args[0]
                    found.add(str(target))
                elif key == "Fn::Sub":
                    text = args if isinstance(args, str) else args[0]
                    for match in _SUB_VARIABLE.finditer(str(text)):
                        if not match.group(1).startswith("!"):
                            found.add(match.group(1).split(".")[0])
            for item in value.values():
                self._collect_references(item, found)
        elif isinstance(value, list):
            for item in value:
                self._collect_references(item, found)

    def creation_order(self, logical_ids: Iterable[str]) -> list[str]:
        """The given resources, each after the ones it refers to (e.g. a DLQ before its queue)."""
        wanted = list(logical_ids)
        wanted_set = set(wanted)
        ordered: list[str] = []
        state: dict[str, int] = {}  # 1 visiting, 2 done

        def visit(lid: str) -> None:
            if state.get(lid) == 2:
                return
            if state.get(lid) == 1:
                raise TemplateError(f"circular dependency involving {lid}")
            state[lid] = 1
            for dep in sorted(self.dependencies(lid) & wanted_set):
                visit(dep)
            state[lid] = 2
            ordered.append(lid)

        for lid in wanted:
            visit(lid)
        return ordered

    # ------------------------------------------------------------------ physical names

    def physical(self, logical_id: str) -> PhysicalResource:
        if logical_id not in self.resources:
            raise TemplateError(f"unknown resource {logical_id}")
        if logical_id not in self._physical_cache:
            if logical_id in self._resolving:
                raise TemplateError(f"circular reference while naming {logical_id}")
            self._resolving.add(logical_id)
            try:
                self._physical_cache[logical_id] = self._name_resource(logical_id)
            finally:
                self._resolving.discard(logical_id)
        return self._physical_cache[logical_id]

    def _declared_name(self, logical_id: str, prop: str) -> str | None:
        raw = self.raw_properties(logical_id).get(prop)
        if raw is None:
            return None
        value = self.resolve(raw)
        return None if value is NO_VALUE else str(value)

    def _name_resource(self, logical_id: str) -> PhysicalResource:
        kind = self.resource_type(logical_id)
        default_name = f"{self.stack_name}-{logical_id}"
        region, account = self.region, self.account_id
        if kind == "AWS::DynamoDB::Table":
            name = self._declared_name(logical_id, "TableName") or default_name
            arn = f"arn:{PARTITION}:dynamodb:{region}:{account}:table/{name}"
            attrs = {"Arn": arn}
            if self.raw_properties(logical_id).get("StreamSpecification"):
                # The stream's label is its creation time, known once the table exists: the provisioner
                # records the real ARN (record_attribute); until then this stands in for it.
                attrs["StreamArn"] = f"{arn}/stream/{UNKNOWN_STREAM_LABEL}"
            return PhysicalResource(logical_id, kind, name, name=name, arn=arn, attributes=attrs)
        if kind == "AWS::S3::Bucket":
            name = self._declared_name(logical_id, "BucketName") or _bucket_name(default_name)
            arn = f"arn:{PARTITION}:s3:::{name}"
            attrs = {
                "Arn": arn,
                "DomainName": f"{name}.s3.{URL_SUFFIX}",
                "RegionalDomainName": f"{name}.s3.{region}.{URL_SUFFIX}",
                "DualStackDomainName": f"{name}.s3.dualstack.{region}.{URL_SUFFIX}",
                "WebsiteURL": f"http://{name}.s3-website-{region}.{URL_SUFFIX}",
            }
            return PhysicalResource(logical_id, kind, name, name=name, arn=arn, attributes=attrs)
        if kind == "AWS::SQS::Queue":
            name = self._declared_name(logical_id, "QueueName") or default_name
            arn = f"arn:{PARTITION}:sqs:{region}:{account}:{name}"
            url = f"{self.moto_endpoint}/{account}/{name}"
            attrs = {"Arn": arn, "QueueName": name, "QueueUrl": url}
            return PhysicalResource(logical_id, kind, url, name=name, arn=arn, url=url, attributes=attrs)
        if kind in FUNCTION_TYPES:
            name = self._declared_name(logical_id, "FunctionName") or default_name
            arn = f"arn:{PARTITION}:lambda:{region}:{account}:function:{name}"
            return PhysicalResource(logical_id, kind, name, name=name, arn=arn, attributes={"Arn": arn})
        if kind in LAYER_TYPES:
            name = self._declared_name(logical_id, "LayerName") or default_name
            arn = f"arn:{PARTITION}:lambda:{region}:{account}:layer:{name}:1"
            return PhysicalResource(logical_id, kind, arn, name=name, arn=arn, attributes={"Arn": arn})
        if kind in (*API_TYPES, "AWS::ApiGateway::RestApi"):
            api_id = api_id_for(self.stack_name, logical_id)
            name = self._declared_name(logical_id, "Name") or default_name
            attrs = {"RootResourceId": api_id_for(self.stack_name, f"{logical_id}/root")[:6]}
            return PhysicalResource(logical_id, kind, api_id, name=name, attributes=attrs)
        # Anything else: a plausible name so references resolve; the local stack does not create it.
        service = kind.split("::")[1].lower() if kind.count("::") >= 2 else "cloudformation"
        arn = f"arn:{PARTITION}:{service}:{region}:{account}:{default_name}"
        return PhysicalResource(logical_id, kind, default_name, name=default_name, arn=arn, attributes={"Arn": arn})

    # ------------------------------------------------------------------ intrinsics

    def pseudo_parameters(self) -> dict[str, Any]:
        return {
            "AWS::Region": self.region,
            "AWS::AccountId": self.account_id,
            "AWS::StackName": self.stack_name,
            "AWS::StackId": (
                f"arn:{PARTITION}:cloudformation:{self.region}:{self.account_id}:stack/{self.stack_name}/"
                f"{api_id_for(self.stack_name, 'stack')}"
            ),
            "AWS::Partition": PARTITION,
            "AWS::URLSuffix": URL_SUFFIX,
            "AWS::NoValue": NO_VALUE,
            "AWS::NotificationARNs": [],
        }

    def ref(self, name: str) -> Any:
        pseudo = self.pseudo_parameters()
        if name in pseudo:
            return pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        if name in self.resources:
            return self.physical(name).ref
        raise TemplateError(f"!Ref to unknown name {name}")

    def record_attribute(self, logical_id: str, attribute: str, value: Any) -> None:
        """An attribute known only once the resource exists (a table's StreamArn), for later resolutions."""
        self.physical(logical_id).attributes[attribute] = value

    def get_att(self, logical_id: str, attribute: str) -> Any:
        resource = self.physical(logical_id)
        if attribute in resource.attributes:
            return resource.attributes[attribute]
        raise TemplateError(f"!GetAtt {logical_id}.{attribute}: attribute not known for {resource.type}")

    def resolve(self, value: Any) -> Any:
        """Resolve every intrinsic function in value; AWS::NoValue entries are dropped."""
        if isinstance(value, dict):
            if len(value) == 1:
                ((key, args),) = value.items()
                handler = self._INTRINSICS.get(key)
                if handler is not None:
                    return handler(self, args)
                if str(key).startswith("Fn::"):
                    raise TemplateError(f"{key} is not supported by the local stack")
            out: dict[str, Any] = {}
            for key, item in value.items():
                resolved = self.resolve(item)
                if resolved is not NO_VALUE:
                    out[key] = resolved
            return out
        if isinstance(value, list):
            return [r for r in (self.resolve(i) for i in value) if r is not NO_VALUE]
        return value

    def _fn_ref(self, args: Any) -> Any:
        return self.ref(str(self.resolve(args)))

    def _fn_get_att(self, args: Any) -> Any:
        if isinstance(args, str):
            logical_id, _, attribute = args.partition(".")
        else:
            logical_id, attribute = str(args[0]), str(self.resolve(args[1]))
        return self.get_att(logical_id, attribute)

    def _fn_sub(self, args: Any) -> str:
        if isinstance(args, list):
            text, variables = str(args[0]), {k: self.resolve(v) for k, v in (args[1] or {}).items()}
        else:
            text, variables = str(args), {}

        def substitute(match: re.Match[str]) -> str:
            name = match.group(1).strip()
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                return _to_text(variables[name])
            if "." in name and name.split(".")[0] in self.resources:
                logical_id, _, attribute = name.partition(".")
                return _to_text(self.get_att(logical_id, attribute))
            return _to_text(self.ref(name))

        return _SUB_VARIABLE.sub(substitute, text)

    def _fn_if(self, args: Any) -> Any:
        name, when_true, when_false = args
        return self.resolve(when_true if self.condition(str(name)) else when_false)

    def _fn_condition_value(self, args: Any) -> bool:
        return self.condition(str(args))

    def _fn_equals(self, args: Any) -> bool:
        return self._evaluate_condition({"Fn::Equals": args})

    def _fn_and(self, args: Any) -> bool:
        return self._evaluate_condition({"Fn::And": args})

    def _fn_or(self, args: Any) -> bool:
        return self._evaluate_condition({"Fn::Or": args})

    def _fn_not(self, args: Any) -> bool:
        return self._evaluate_condition({"Fn::Not": args})

    _INTRINSICS: dict[str, Callable[[Template, Any], Any]] = {
        "Ref": _fn_ref,
        "Fn::GetAtt": _fn_get_att,
        "Fn::Sub": _fn_sub,
        "Fn::If": _fn_if,
        "Condition": _fn_condition_value,
        "Fn::Equals": _fn_equals,
        "Fn::And": _fn_and,
        "Fn::Or": _fn_or,
        "Fn::Not": _fn_not,
    }

    # ------------------------------------------------------------------ outputs

    def outputs(self) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for name, output in (self.raw.get("Outputs") or {}).items():
            if "Condition" in output and not self.condition(str(output["Condition"])):
                continue
            result[name] = self.resolve(output.get("Value"))
        return result

    def physical_resources(self) -> dict[str, PhysicalResource]:
        return {lid: self.physical(lid) for lid in self.resources}

    def resolve_path(self, relative: str) -> Path:
        """A CodeUri/ContentUri, relative to the template's directory."""
        return (self.base_dir / relative).resolve()


def _to_text(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        return ",".join(_to_text(v) for v in value)
    if value is NO_VALUE:
        return ""
    return str(value)
