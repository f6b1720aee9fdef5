"""template.yaml holds the shape the design promises: arm64 + python3.13, a cached REQUEST authorizer, the
routes of `filegate.routes` exactly, docs/api.md error bodies from API Gateway, and least-privilege policies."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from filegate.errors import INVALID_API_KEY_MESSAGE
from filegate.routes import DASHBOARD_ROUTES, PUBLIC, ROUTES, SESSION, is_catch_all
from tests.helpers.template import (
    ROOT,
    TEMPLATE_PATH,
    api_events,
    authorizer_function_id,
    env_vars,
    fn_prop,
    function_folder,
    function_folder_of,
    functions,
    global_fn,
    handler_of,
    is_image,
    load_template,
    resources_of,
    the_api,
)


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template()


def test_runtime_is_python313_on_arm64_everywhere(template: dict[str, Any]) -> None:
    glob = global_fn(template)
    assert glob.get("Runtime") == "python3.13"
    assert glob.get("Architectures") == ["arm64"]
    for name, props in functions(template).items():
        assert fn_prop(template, props, "Architectures") == ["arm64"], name
        if is_image(props):  # its image brings its Python: Lambda refuses a Runtime or Layers beside one
            assert set(template["Resources"][name].get("IgnoreGlobals") or []) >= {"Runtime", "Layers"}, name
            assert not {"Runtime", "Handler", "Layers", "CodeUri"} & set(props), name
        else:
            assert fn_prop(template, props, "Runtime") == "python3.13", name


def test_image_functions_are_built_from_the_repository_root(template: dict[str, Any]) -> None:
    images = {name: res for name, res in template["Resources"].items() if is_image(res.get("Properties") or {})}
    assert set(images) == {"DocumentsFunction", "DocumentsDeadLetterFunction"}
    for name, resource in images.items():
        metadata = resource["Metadata"]
        # The context is the root: the image copies infra/system-packages.txt and layers/common.
        assert metadata["DockerContext"] == ".", name
        assert (ROOT / metadata["Dockerfile"]).is_file(), name
        assert metadata.get("DockerTag"), name


def test_every_layer_is_built_for_arm64(template: dict[str, Any]) -> None:
    layers = resources_of(template, "AWS::Serverless::LayerVersion")
    assert layers, "no layers"
    for name, layer in layers.items():
        metadata = layer.get("Metadata") or {}
        # Without BuildArchitecture SAM builds the layer for x86_64, whatever CompatibleArchitectures says.
        assert metadata.get("BuildArchitecture") == "arm64", name
        assert metadata.get("BuildMethod") in ("python3.13", "makefile"), name
        assert layer["Properties"].get("CompatibleArchitectures") == ["arm64"], name
        assert "python3.13" in layer["Properties"].get("CompatibleRuntimes", []), name


def test_every_function_folder_has_its_handler(template: dict[str, Any]) -> None:
    for name, props in functions(template).items():
        folder = function_folder_of(template, name)
        assert folder, f"{name}: CodeUri (or Dockerfile) should be in functions/<name>, is {props.get('CodeUri')!r}"
        module, _, attr = handler_of(template, props).rpartition(".")
        source = ROOT / "functions" / folder / f"{module.replace('.', '/')}.py"
        assert source.is_file(), f"{name}: {source} is missing"
        assert re.search(rf"^{attr}\b\s*[:=]|^def {attr}\(", source.read_text(), re.M), (
            f"{name}: {source} defines no {attr}"
        )


# ------------------------------------------------------------------ the API and its authorizer


def test_authorizer_is_a_cached_request_authorizer(template: dict[str, Any]) -> None:
    _, api = the_api(template)
    auth = api["Auth"]
    authorizer = auth["Authorizers"][auth["DefaultAuthorizer"]]
    assert authorizer["FunctionPayloadType"] == "REQUEST"
    identity = authorizer["Identity"]
    assert identity["Headers"] == ["Authorization"]
    assert identity["Context"] == ["identity.sourceIp"]
    assert identity["ReauthorizeEvery"] == {"Ref": "AuthorizerCacheTtl"}
    ttl = template["Parameters"]["AuthorizerCacheTtl"]
    assert ttl["Type"] == "Number"
    assert int(ttl["Default"]) == 3600
    assert authorizer_function_id(template) in functions(template)


def test_routes_match_the_route_table_exactly(template: dict[str, Any]) -> None:
    api_id, _ = the_api(template)
    by_folder: dict[str | None, set[str]] = {}
    for name, props in functions(template).items():
        by_folder.setdefault(function_folder(props), set()).add(name)
    in_template: dict[tuple[str, str], tuple[str, dict[str, Any]]] = {}
    for fn_name, props in functions(template).items():
        for ev_name, ev in api_events(props).items():
            if str(ev["Method"]).upper() == "ANY" and not is_catch_all(str(ev["Path"])):
                continue  # a path's other methods (405), held to the table below
            key = (str(ev["Method"]).upper(), str(ev["Path"]))
            assert key not in in_template, f"{key} is routed twice"
            assert ev.get("RestApiId") == {"Ref": api_id}, f"{fn_name}.{ev_name} is not on {api_id}"
            in_template[key] = (fn_name, ev)

    expected = {(r.method, r.path): r for r in (*ROUTES, *DASHBOARD_ROUTES)}
    missing = sorted(set(expected) - set(in_template))
    extra = sorted(set(in_template) - set(expected))
    assert not missing, f"routes in filegate.routes with no Api event in template.yaml: {missing}"
    assert not extra, f"Api events in template.yaml that filegate.routes lacks: {extra}"

    for key, route in expected.items():
        fn_name, ev = in_template[key]
        assert route.function in by_folder, f"{key}: no function has CodeUri functions/{route.function}"
        assert fn_name in by_folder[route.function], (
            f"{key} is routed to {fn_name}, filegate.routes says functions/{route.function}"
        )
        authorizer = (ev.get("Auth") or {}).get("Authorizer")
        if route.scope in (PUBLIC, SESSION):  # the dashboard checks its own sessions
            assert authorizer == "NONE", f"{key} is public and must have Auth: {{Authorizer: NONE}}"
        else:
            assert authorizer != "NONE", f"{key} needs a key but its event turns the authorizer off"


def test_every_path_answers_its_other_methods_through_its_own_function(template: dict[str, Any]) -> None:
    # API Gateway answers a known path's unknown method 403 Missing Authentication Token (404 here) unless
    # the resource has ANY: then the function gets it and answers 405 with Allow (docs/api.md §4).
    any_events: dict[str, tuple[str | None, dict[str, Any]]] = {}
    for props in functions(template).values():
        for ev in api_events(props).values():
            if str(ev["Method"]).upper() == "ANY" and not is_catch_all(str(ev["Path"])):
                assert str(ev["Path"]) not in any_events, f"ANY {ev['Path']} is routed twice"
                any_events[str(ev["Path"])] = (function_folder(props), ev)
    wanted = {r.path: r.function for r in ROUTES}
    assert set(any_events) == set(wanted)
    for path, (folder, ev) in any_events.items():
        assert folder == wanted[path], f"ANY {path} goes to {folder}, its routes to {wanted[path]}"
        assert (ev.get("Auth") or {}).get("Authorizer") == "NONE", f"ANY {path}: a 405 needs no key"


ERROR_BODY_RESPONSES = ("UNAUTHORIZED", "ACCESS_DENIED", "DEFAULT_4XX", "DEFAULT_5XX")


def gateway_responses(template: dict[str, Any]) -> dict[str, Any]:
    _, api = the_api(template)
    return dict(api.get("GatewayResponses") or {})


def error_body(response: dict[str, Any]) -> dict[str, Any]:
    templates = response["ResponseTemplates"]
    body = json.loads(templates["application/json"])  # VTL variables sit inside strings: still JSON
    assert set(body) == {"error"}
    return dict(body["error"])


def test_gateway_responses_follow_the_error_shape(template: dict[str, Any]) -> None:
    responses = gateway_responses(template)
    for name in ERROR_BODY_RESPONSES:
        assert name in responses, f"GatewayResponses lacks {name}"
    for name, response in responses.items():
        err = error_body(response)
        assert set(err) == {"code", "message", "request_id"}, name
        assert err["request_id"] == "$context.requestId", name
        assert err["code"] and err["message"], name


def test_unauthorized_is_401_with_www_authenticate(template: dict[str, Any]) -> None:
    response = gateway_responses(template)["UNAUTHORIZED"]
    assert str(response["StatusCode"]) == "401"
    headers = response["ResponseParameters"]["Headers"]
    assert "WWW-Authenticate" in headers
    assert headers["WWW-Authenticate"].startswith("'Bearer")
    # One body for every cause: nothing in it may come from the authorizer.
    assert "$context.authorizer" not in response["ResponseTemplates"]["application/json"]


def test_the_gateways_401_is_word_for_word_the_functions(template: dict[str, Any]) -> None:
    # A client sees one 401 whether the authorizer or a function refused the key, and it says how to send one.
    message = error_body(gateway_responses(template)["UNAUTHORIZED"])["message"]
    assert message == INVALID_API_KEY_MESSAGE
    assert "Authorization: Bearer fg_" in message and "Basic" in message


def test_access_denied_is_only_a_fallback_403(template: dict[str, Any]) -> None:
    # The authorizer allows the whole API; the functions answer the 403s. The gateway's own 403 must not
    # depend on an authorizer context that no longer carries a reason.
    response = gateway_responses(template)["ACCESS_DENIED"]
    assert str(response["StatusCode"]) == "403"
    assert error_body(response)["code"] == "insufficient_scope"
    assert "$context.authorizer" not in response["ResponseTemplates"]["application/json"]


def test_authorizer_cache_ttl_defaults_to_an_hour_and_reaches_the_keys_function(template: dict[str, Any]) -> None:
    assert template["Parameters"]["AuthorizerCacheTtl"]["Default"] == 3600
    keys = template["Resources"]["KeysFunction"]["Properties"]["Environment"]["Variables"]
    assert keys["AUTHORIZER_CACHE_TTL_SECONDS"] == {"Ref": "AuthorizerCacheTtl"}


def test_nothing_may_flush_the_authorizer_cache(template: dict[str, Any]) -> None:
    for name, resource in template["Resources"].items():
        for statement in _statements(resource.get("Properties") or {}):
            actions = statement.get("Action")
            actions = [actions] if isinstance(actions, str) else actions or []
            assert not any(a.lower().startswith("apigateway:") for a in actions), name


# ------------------------------------------------------------------ functions


def _statements(props: dict[str, Any]) -> list[dict[str, Any]]:
    policies = props.get("Policies") or []
    if isinstance(policies, dict | str):
        policies = [policies]
    found: list[dict[str, Any]] = []
    for policy in policies:
        if isinstance(policy, dict) and "Statement" in policy:
            statements = policy["Statement"]
            found.extend(statements if isinstance(statements, list) else [statements])
    return found


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_dynamodb_permissions_name_their_tables(template: dict[str, Any]) -> None:
    for name, props in functions(template).items():
        for policy in _as_list(props.get("Policies") or []):
            # Managed policies are never least privilege for our tables.
            assert not (isinstance(policy, str) and "DynamoDB" in policy), f"{name}: {policy}"
        for st in _statements(props):
            actions = [str(a) for a in _as_list(st.get("Action", []))]
            if not any(a == "*" or a.lower().startswith("dynamodb:") for a in actions):
                continue
            assert "*" not in actions and "dynamodb:*" not in [a.lower() for a in actions], (
                f"{name}: wildcard DynamoDB action {actions}"
            )
            for resource in _as_list(st.get("Resource")):
                assert resource != "*", f"{name}: DynamoDB actions {actions} on Resource '*'"
                if isinstance(resource, str):
                    assert not resource.endswith(":table/*"), f"{name}: every table: {resource}"
                elif isinstance(resource, dict) and "Fn::Sub" in resource:
                    sub = _as_list(resource["Fn::Sub"])[0]
                    assert not str(sub).endswith(":table/*"), f"{name}: every table: {sub}"


INSECURE_ENV = re.compile(r"INSECURE|SSRF|ALLOW_(PRIVATE|LOCAL|LOOPBACK|INTERNAL|HTTP$)|SKIP_.*VERIF")


def test_no_function_relaxes_webhook_safety(template: dict[str, Any]) -> None:
    for name, props in functions(template).items():
        for var in env_vars(template, props):
            assert not INSECURE_ENV.search(var.upper()), f"{name} sets {var}: only the local stack may"


def test_the_local_stacks_switches_are_never_deployed(template: dict[str, Any]) -> None:
    # EGRESS_ALLOW_INSECURE_LOOPBACK (plain http to loopback) and EGRESS_RESOLVE_LOOPBACK_ONLY are the local
    # stack's and the tests': neither the template (its Globals and every function) nor samconfig.toml's
    # parameter overrides may set them.
    text = TEMPLATE_PATH.read_text(encoding="utf-8") + (ROOT / "samconfig.toml").read_text(encoding="utf-8")
    for switch in ("EGRESS_ALLOW_INSECURE_LOOPBACK", "EGRESS_RESOLVE_LOOPBACK_ONLY", "AllowInsecureLoopback"):
        assert switch.lower() not in text.lower(), f"{switch} is set for a deployment"
    assert INSECURE_ENV.search("EGRESS_ALLOW_INSECURE_LOOPBACK")  # the per-function check below catches it too


def test_functions_are_traced_and_named_for_powertools(template: dict[str, Any]) -> None:
    for name, props in functions(template).items():
        assert fn_prop(template, props, "Tracing") == "Active", name
        assert env_vars(template, props).get("POWERTOOLS_SERVICE_NAME"), name


def test_http_functions_use_snapstart(template: dict[str, Any]) -> None:
    authorizer = authorizer_function_id(template)
    http = {
        name: props
        for name, props in functions(template).items()
        if name != authorizer
        and not any(ev.get("Type") == "SQS" for ev in (props.get("Events") or {}).values())
        and api_events(props)
    }
    assert http, "no FastAPI functions found"
    for name, props in http.items():
        # Their import cost (FastAPI, pydantic) is paid once at publish time, not on every cold start.
        snap = fn_prop(template, props, "SnapStart") or {}
        assert snap.get("ApplyOn") == "PublishedVersions", name
        assert fn_prop(template, props, "AutoPublishAlias"), f"{name}: SnapStart needs a published version"


def test_mail_is_sent_only_as_the_email_sender(template: dict[str, Any]) -> None:
    senders = []
    for name, props in functions(template).items():
        for statement in _statements(props):
            actions = [str(a).lower() for a in _as_list(statement.get("Action", []))]
            if not any(a.startswith("ses:") for a in actions):
                continue
            assert actions == ["ses:sendemail"], f"{name}: {actions}"
            (resource,) = _as_list(statement["Resource"])
            assert resource["Fn::Sub"].endswith(":identity/${EmailSender}"), f"{name}: {resource}"
            senders.append(name)
    assert "DashboardFunction" in senders
    assert template["Parameters"]["EmailSender"]["Type"] == "String"


@pytest.mark.parametrize("table", ["AuditTable", "DashboardSessionsTable", "DashboardLoginsTable"])
def test_audit_sessions_and_sign_ins_expire(template: dict[str, Any], table: str) -> None:
    ttl = template["Resources"][table]["Properties"]["TimeToLiveSpecification"]
    assert ttl == {"AttributeName": "expires_at", "Enabled": True}


def test_the_dashboard_routes_take_no_key(template: dict[str, Any]) -> None:
    events = api_events(functions(template)["DashboardFunction"])
    assert events and all(ev["Path"].startswith("/dashboard") for ev in events.values())
    assert all(ev.get("Auth") == {"Authorizer": "NONE"} for ev in events.values())
