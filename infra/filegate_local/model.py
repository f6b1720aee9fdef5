"""What the local stack runs, read from template.yaml: functions, the API (routes, its REQUEST authorizer,
gateway responses, stage throttling), SQS and DynamoDB stream event source mappings, log subscriptions.
Plain data for the runtime parts; what the template configures beyond FileGate's use is refused here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from filegate_local.event_filters import validate_pattern
from filegate_local.images import image_code
from filegate_local.log_subscriptions import LogSubscriptionSpec, matcher
from filegate_local.template import Template, TemplateError

# Event source settings the pollers emulate in one value only (absent is that value).
ONLY_SETTING = {"MaximumBatchingWindowInSeconds": 0, "StartingPosition": "TRIM_HORIZON", "MaximumRetryAttempts": -1}


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    name: str
    arn: str
    code_dir: Path
    handler: str
    runtime: str  # "image" for an image function: its image brings its own Python
    timeout_seconds: float
    memory_mb: int
    environment: dict[str, str]
    layer_dirs: tuple[Path, ...]
    reserved_concurrency: int | None = None


@dataclass(frozen=True)
class AuthorizerSpec:
    name: str
    function: str  # logical id of the authorizer function
    headers: tuple[str, ...]  # identity sources: these headers...
    context: tuple[str, ...]  # ...and identity.sourceIp when named
    ttl_seconds: int


@dataclass(frozen=True)
class RouteSpec:
    api: str  # logical id of the API
    event: str  # the function event's name
    function: str  # logical id
    path: str  # resource path, e.g. /v1/keys/{id}
    method: str  # upper case, or ANY
    authorizer: str | None  # authorizer name, or None (public)
    integration_timeout_ms: int = 29_000  # API Gateway's limit


@dataclass(frozen=True)
class ThrottleSpec:  # the stage's MethodSettings, on every resource and method
    rate_limit: float
    burst_limit: int


@dataclass
class ApiSpec:
    logical_id: str
    api_id: str
    name: str
    stage: str
    binary_media_types: tuple[str, ...]
    gateway_responses: dict[str, dict[str, Any]]
    authorizer: AuthorizerSpec | None
    throttle: ThrottleSpec | None
    routes: list[RouteSpec] = field(default_factory=list)


@dataclass(frozen=True)
class SqsMappingSpec:
    function: str
    event: str
    queue: str  # logical id
    queue_arn: str
    queue_url: str
    batch_size: int
    report_batch_item_failures: bool


@dataclass(frozen=True)
class StreamMappingSpec:  # a `Type: DynamoDB` event: its stream from the trim horizon, failures retried for ever
    function: str
    event: str
    table: str  # logical id
    table_name: str
    stream_arn: str  # as the template resolves it; the table's LatestStreamArn is read when polling starts
    batch_size: int
    bisect_on_error: bool
    report_batch_item_failures: bool
    filters: tuple[dict[str, Any], ...] = ()  # FilterCriteria patterns; a record passes if one matches


@dataclass
class StackModel:
    functions: dict[str, FunctionSpec]
    apis: dict[str, ApiSpec]
    sqs_mappings: list[SqsMappingSpec]
    stream_mappings: list[StreamMappingSpec] = field(default_factory=list)
    log_subscriptions: list[LogSubscriptionSpec] = field(default_factory=list)


def _target(raw: dict[str, Any]) -> str:
    """The logical id of a `!Ref X` / `!GetAtt X.Attribute` (the loader gives the latter as [X, Attribute])."""
    return str(raw["Ref"] if "Ref" in raw else raw["Fn::GetAtt"][0])


def build_model(template: Template) -> StackModel:
    functions = {lid: _function(template, lid) for lid in template.of_type("AWS::Serverless::Function")}
    model = StackModel(functions, {lid: _api(template, lid) for lid in template.of_type("AWS::Serverless::Api")}, [])
    for function in functions:
        for event, raw in (template.raw_properties(function).get("Events") or {}).items():
            raw_props, where = raw.get("Properties") or {}, f"{function}.{event}"
            props = template.resolve(raw_props)
            for key, only in ONLY_SETTING.items():
                if str(props.get(key, only)) != str(only):
                    raise TemplateError(f"{where}: {key} {props[key]} is not emulated (only {only})")
            reports = "ReportBatchItemFailures" in (props.get("FunctionResponseTypes") or [])
            if raw["Type"] == "Api":
                api = model.apis[_target(raw_props.get("RestApiId"))]
                authorizer = (props.get("Auth") or {}).get("Authorizer", api.authorizer and api.authorizer.name)
                path, method = str(props["Path"]).rstrip("/") or "/", str(props["Method"]).upper()
                authorizer = None if authorizer == "NONE" else authorizer
                api.routes.append(RouteSpec(api.logical_id, event, function, path, method, authorizer))
            elif raw["Type"] == "SQS":
                queue, batch = _target(raw_props["Queue"]), int(props.get("BatchSize", 10))
                mapping = SqsMappingSpec(function, event, queue, props["Queue"], template.ref(queue), batch, reports)
                model.sqs_mappings.append(mapping)
            elif raw["Type"] == "DynamoDB":
                table, batch = _target(raw_props["Stream"]), int(props.get("BatchSize", 100))
                criteria = props.get("FilterCriteria", {}).get("Filters", [])
                try:
                    filters = tuple(json.loads(f["Pattern"]) for f in criteria)
                    for pattern in filters:
                        validate_pattern(pattern)
                except ValueError as exc:  # not JSON, or a pattern not emulated
                    raise TemplateError(f"{where}: FilterCriteria: {exc}") from exc
                bisect = bool(props.get("BisectBatchOnFunctionError"))
                name, stream = template.physical(table).name, props["Stream"]
                mapping = StreamMappingSpec(function, event, table, name, stream, batch, bisect, reports, filters)
                model.stream_mappings.append(mapping)
            else:  # CloudWatchLogs, on the log group a function's `LoggingConfig` names
                group, pattern = str(props.get("LogGroupName", "")), str(props.get("FilterPattern", ""))
                groups = {template.properties(f).get("LoggingConfig", {}).get("LogGroup"): f for f in functions}
                if group not in groups:
                    raise TemplateError(f"{where}: log group {group!r} is no function's")
                matcher(pattern)  # an unsupported pattern fails here, at start, not on the first line
                model.log_subscriptions.append(LogSubscriptionSpec(function, event, groups[group], group, pattern))
    return model


def _function(template: Template, logical_id: str) -> FunctionSpec:
    props = template.properties(logical_id)
    layer_ids = {template.ref(lid): lid for lid in template.of_type("AWS::Serverless::LayerVersion")}
    layers: list[Path] = []
    for arn in props.get("Layers") or []:
        root = (template.base_dir / template.properties(layer_ids[arn])["ContentUri"]).resolve()
        # A layer built by SAM puts its packages under python/; the source tree has them at the root.
        layers += [root, root / "python"] if (root / "python").is_dir() else [root]
    if props.get("PackageType") == "Image":  # run from the source tree, as its Dockerfile lays it out
        image = image_code(logical_id, props, template.resources[logical_id].get("Metadata") or {}, template.base_dir)
        code_dir, handler, runtime = image.code_dir, image.handler, "image"
        layers.extend(image.path_dirs)
    else:
        code_dir = (template.base_dir / props["CodeUri"]).resolve()
        handler, runtime = props["Handler"], props["Runtime"]
    timeout, memory = float(props.get("Timeout", 3)), int(props.get("MemorySize", 128))
    variables = props.get("Environment", {}).get("Variables", {})
    env = {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in variables.items()}  # true, not True
    reserved = props.get("ReservedConcurrentExecutions")
    reserved = None if reserved is None else int(reserved)
    name, arn = template.physical(logical_id).name, template.get_att(logical_id, "Arn")
    return FunctionSpec(logical_id, name, arn, code_dir, handler, runtime, timeout, memory, env, (*layers,), reserved)


def _api(template: Template, logical_id: str) -> ApiSpec:
    """The API, held to the shape the gateway emulates: one REQUEST authorizer (the default) on headers and
    the source IP, one MethodSettings on every resource and method, DEFAULT_4XX and DEFAULT_5XX responses."""
    props = template.properties(logical_id)
    auth = props.get("Auth") or {}
    authorizers = auth.get("Authorizers") or {}
    if set(authorizers) != {auth.get("DefaultAuthorizer")}:
        raise TemplateError(f"{logical_id}: one REQUEST authorizer, the DefaultAuthorizer, is emulated")
    ((name, spec),) = authorizers.items()
    identity = spec.get("Identity") or {}
    headers, context = tuple(identity.get("Headers") or ()), tuple(identity.get("Context") or ())
    if spec.get("FunctionPayloadType") != "REQUEST" or set(context) - {"identity.sourceIp"}:
        raise TemplateError(f"{logical_id}: authorizer {name}: only REQUEST with Headers and identity.sourceIp")
    arns = {template.get_att(f, "Arn"): f for f in template.of_type("AWS::Serverless::Function")}
    ttl = int(identity.get("ReauthorizeEvery", 300))
    authorizer = AuthorizerSpec(name, arns[spec["FunctionArn"]], headers, context, ttl)
    settings = props.get("MethodSettings") or []
    if len(settings) > 1 or any((s.get("ResourcePath"), s.get("HttpMethod")) != ("/*", "*") for s in settings):
        raise TemplateError(f"{logical_id}: only one MethodSettings, on every resource (/*) and method (*)")
    throttle = [ThrottleSpec(float(s["ThrottlingRateLimit"]), int(s["ThrottlingBurstLimit"])) for s in settings]
    responses = props.get("GatewayResponses") or {}
    if not {"DEFAULT_4XX", "DEFAULT_5XX"} <= set(responses):
        raise TemplateError(f"{logical_id}: GatewayResponses must configure DEFAULT_4XX and DEFAULT_5XX")
    binary = tuple(str(t).replace("~1", "/") for t in props.get("BinaryMediaTypes") or [])  # SAM's "~1" is "/"
    api_id, api_name, stage = template.ref(logical_id), template.physical(logical_id).name, props["StageName"]
    return ApiSpec(logical_id, api_id, api_name, stage, binary, responses, authorizer, (throttle or [None])[0])
