"""What the local stack runs, read from template.yaml: functions, the API (routes, its REQUEST authorizer,
gateway responses, stage throttling), SQS and DynamoDB stream event source mappings, log subscriptions.
Plain data; the runtime parts (workers, gateway, pollers) take these. The template has been checked
against filegate_local.template.SUPPORTED; what it configures beyond FileGate's use is refused here.
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

API_GATEWAY_INTEGRATION_TIMEOUT_MS = 29_000
# What an image function reports as its runtime (AWS_EXECUTION_ENV): its image brings its own Python.
IMAGE_RUNTIME = "image"


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    name: str
    arn: str
    code_dir: Path
    handler: str
    runtime: str
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
    integration_timeout_ms: int = API_GATEWAY_INTEGRATION_TIMEOUT_MS


@dataclass(frozen=True)
class ThrottleSpec:
    """The stage's throttling (MethodSettings on every resource and method)."""

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
    batching_window_seconds: float
    report_batch_item_failures: bool
    maximum_concurrency: int | None = None


@dataclass(frozen=True)
class StreamMappingSpec:
    """A `Type: DynamoDB` event: the function reads the table's stream, shard by shard, in order."""

    function: str
    event: str
    table: str  # logical id
    table_name: str
    stream_arn: str  # as the template resolves it; the table's LatestStreamArn is read when polling starts
    batch_size: int
    batching_window_seconds: float
    starting_position: str  # TRIM_HORIZON or LATEST
    bisect_on_error: bool
    maximum_retry_attempts: int  # -1: until the record expires (for ever, locally)
    report_batch_item_failures: bool
    filters: tuple[dict[str, Any], ...] = ()  # FilterCriteria patterns; a record passes if one matches


@dataclass
class StackModel:
    functions: dict[str, FunctionSpec]
    apis: dict[str, ApiSpec]
    sqs_mappings: list[SqsMappingSpec]
    stream_mappings: list[StreamMappingSpec] = field(default_factory=list)
    log_subscriptions: list[LogSubscriptionSpec] = field(default_factory=list)


def _target(raw: Any) -> str:
    """The logical id of a `!Ref X` / `!GetAtt X.Attribute` (before resolving it)."""
    if isinstance(raw, dict) and "Ref" in raw:
        return str(raw["Ref"])
    if isinstance(raw, dict) and "Fn::GetAtt" in raw:
        target = raw["Fn::GetAtt"]
        return str(target.split(".")[0] if isinstance(target, str) else target[0])
    raise TemplateError(f"{raw!r} must be !Ref or !GetAtt to a resource of the template")


def _reports_failures(props: dict[str, Any]) -> bool:
    return "ReportBatchItemFailures" in (props.get("FunctionResponseTypes") or [])


def build_model(template: Template) -> StackModel:
    functions = _functions(template)
    apis = {logical_id: _api(template, logical_id) for logical_id in template.of_type("AWS::Serverless::Api")}
    model = StackModel(functions=functions, apis=apis, sqs_mappings=[])
    for function in functions:
        raw_events = template.raw_properties(function).get("Events") or {}
        for event_name, raw_event in raw_events.items():
            props = template.resolve(raw_event.get("Properties") or {})
            raw_props = raw_event.get("Properties") or {}
            where = f"{function}.{event_name}"
            if raw_event["Type"] == "Api":
                api = _target(raw_props.get("RestApiId"))
                apis[api].routes.append(_route(apis[api], function, event_name, props))
            elif raw_event["Type"] == "SQS":
                queue = template.physical(_target(raw_props["Queue"]))
                model.sqs_mappings.append(
                    SqsMappingSpec(
                        function=function,
                        event=event_name,
                        queue=queue.logical_id,
                        queue_arn=str(queue.arn),
                        queue_url=str(queue.url),
                        batch_size=int(props.get("BatchSize", 10)),
                        batching_window_seconds=float(props.get("MaximumBatchingWindowInSeconds", 0)),
                        report_batch_item_failures=_reports_failures(props),
                    )
                )
            elif raw_event["Type"] == "DynamoDB":
                model.stream_mappings.append(_stream_mapping(template, where, function, event_name, props, raw_props))
            else:  # CloudWatchLogs
                model.log_subscriptions.append(
                    _log_subscription(template, functions, where, function, event_name, props)
                )
    return model


def _log_subscription(
    template: Template, functions: dict[str, FunctionSpec], where: str, function: str, event: str, props: dict[str, Any]
) -> LogSubscriptionSpec:
    """A `Type: CloudWatchLogs` event on the log group a function's `LoggingConfig` names."""
    group = str(props.get("LogGroupName", ""))
    sources = [f for f in functions if template.properties(f).get("LoggingConfig", {}).get("LogGroup") == group]
    if not sources:
        raise TemplateError(f"{where}: log group {group!r} is no function's")
    pattern = str(props.get("FilterPattern", ""))
    matcher(pattern)  # an unsupported pattern fails here, at start, not on the first line
    return LogSubscriptionSpec(function, event, sources[0], group, pattern)


def _functions(template: Template) -> dict[str, FunctionSpec]:
    layer_dirs: dict[str, tuple[Path, ...]] = {}
    for layer in template.of_type("AWS::Serverless::LayerVersion"):
        root = template.resolve_path(str(template.properties(layer)["ContentUri"]))
        # A layer built by SAM puts its packages under python/; the source tree has them at the root.
        layer_dirs[str(template.physical(layer).ref)] = (
            (root, root / "python") if (root / "python").is_dir() else (root,)
        )

    functions: dict[str, FunctionSpec] = {}
    for logical_id in template.of_type("AWS::Serverless::Function"):
        props = template.properties(logical_id)
        layers = [d for arn in props.get("Layers") or [] for d in layer_dirs[str(arn)]]
        if props.get("PackageType") == "Image":  # run in-process from the source tree, as its Dockerfile lays it out
            image = image_code(
                logical_id, props, template.resources[logical_id].get("Metadata") or {}, template.base_dir
            )
            code_dir, handler, runtime = image.code_dir, image.handler, IMAGE_RUNTIME
            layers.extend(image.path_dirs)
        else:
            code_dir, handler, runtime = (
                template.resolve_path(str(props["CodeUri"])),
                str(props["Handler"]),
                str(props["Runtime"]),
            )
        physical = template.physical(logical_id)
        reserved = props.get("ReservedConcurrentExecutions")
        variables = (props.get("Environment") or {}).get("Variables") or {}
        functions[logical_id] = FunctionSpec(
            logical_id=logical_id,
            name=str(physical.name),
            arn=str(physical.arn),
            code_dir=code_dir,
            handler=handler,
            runtime=runtime,
            timeout_seconds=float(props.get("Timeout", 3)),
            memory_mb=int(props.get("MemorySize", 128)),
            environment={str(k): str(v).lower() if isinstance(v, bool) else str(v) for k, v in variables.items()},
            layer_dirs=tuple(layers),
            reserved_concurrency=int(reserved) if reserved is not None else None,
        )
    return functions


def _api(template: Template, logical_id: str) -> ApiSpec:
    props = template.properties(logical_id)
    auth = props.get("Auth") or {}
    authorizers = auth.get("Authorizers") or {}
    if set(authorizers) != {auth.get("DefaultAuthorizer")} or len(authorizers) != 1:
        raise TemplateError(f"{logical_id}: one REQUEST authorizer, the DefaultAuthorizer, is emulated")
    ((name, spec),) = authorizers.items()
    identity = spec.get("Identity") or {}
    if spec.get("FunctionPayloadType") != "REQUEST" or set(identity.get("Context") or []) - {"identity.sourceIp"}:
        raise TemplateError(
            f"{logical_id}: authorizer {name}: only REQUEST with Headers and identity.sourceIp is emulated"
        )
    function = next(
        f for f in template.of_type("AWS::Serverless::Function") if template.physical(f).arn == spec["FunctionArn"]
    )
    settings = props.get("MethodSettings") or []
    if any((s.get("ResourcePath"), s.get("HttpMethod")) != ("/*", "*") for s in settings) or len(settings) > 1:
        raise TemplateError(
            f"{logical_id}: only one MethodSettings, on every resource (/*) and method (*), is emulated"
        )
    if not {"DEFAULT_4XX", "DEFAULT_5XX"} <= set(props.get("GatewayResponses") or {}):
        raise TemplateError(f"{logical_id}: GatewayResponses must configure DEFAULT_4XX and DEFAULT_5XX")
    physical = template.physical(logical_id)
    return ApiSpec(
        logical_id=logical_id,
        api_id=str(physical.ref),
        name=str(physical.name),
        stage=str(props["StageName"]),
        # SAM lets "/" be written "~1" (JSON pointer style) in binary media types.
        binary_media_types=tuple(str(t).replace("~1", "/") for t in props.get("BinaryMediaTypes") or []),
        gateway_responses=dict(props["GatewayResponses"]),
        authorizer=AuthorizerSpec(
            name=name,
            function=function,
            headers=tuple(identity.get("Headers") or []),
            context=tuple(identity.get("Context") or []),
            ttl_seconds=int(identity.get("ReauthorizeEvery", 300)),
        ),
        throttle=ThrottleSpec(float(settings[0]["ThrottlingRateLimit"]), int(settings[0]["ThrottlingBurstLimit"]))
        if settings
        else None,
    )


def _route(api: ApiSpec, function: str, event_name: str, props: dict[str, Any]) -> RouteSpec:
    authorizer = (props.get("Auth") or {}).get("Authorizer", api.authorizer.name if api.authorizer else None)
    return RouteSpec(
        api=api.logical_id,
        event=event_name,
        function=function,
        path=str(props["Path"]).rstrip("/") or "/",
        method=str(props["Method"]).upper(),
        authorizer=None if authorizer == "NONE" else authorizer,
    )


def _stream_mapping(
    template: Template, where: str, function: str, event_name: str, props: dict[str, Any], raw_props: dict[str, Any]
) -> StreamMappingSpec:
    table = _target(raw_props.get("Stream"))
    if props.get("StartingPosition") not in ("TRIM_HORIZON", "LATEST"):
        raise TemplateError(f"{where}: StartingPosition must be TRIM_HORIZON or LATEST locally")
    filters: list[dict[str, Any]] = []
    for item in (props.get("FilterCriteria") or {}).get("Filters") or []:
        try:
            pattern = json.loads(item["Pattern"])
            validate_pattern(pattern)
        except ValueError as exc:  # not JSON, or a pattern not emulated
            raise TemplateError(f"{where}: FilterCriteria pattern {item['Pattern']!r}: {exc}") from exc
        filters.append(pattern)
    physical = template.physical(table)
    return StreamMappingSpec(
        function=function,
        event=event_name,
        table=table,
        table_name=str(physical.name),
        stream_arn=str(physical.attributes["StreamArn"]),
        batch_size=int(props.get("BatchSize", 100)),
        batching_window_seconds=float(props.get("MaximumBatchingWindowInSeconds", 0)),
        starting_position=str(props["StartingPosition"]),
        bisect_on_error=bool(props.get("BisectBatchOnFunctionError", False)),
        maximum_retry_attempts=int(props.get("MaximumRetryAttempts", -1)),
        report_batch_item_failures=_reports_failures(props),
        filters=tuple(filters),
    )
