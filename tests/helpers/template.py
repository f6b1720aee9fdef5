"""template.yaml as data: the CloudFormation reader and what the template tests ask of it (functions with
SAM's Globals applied, the one REST API, a function's folder and handler)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_PATH = ROOT / "template.yaml"


class CfnLoader(yaml.SafeLoader):
    """Reads CloudFormation short tags (!Ref, !GetAtt, !Sub …) as their long-form dicts."""


def _cfn_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        assert isinstance(node, yaml.MappingNode)
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


CfnLoader.add_multi_constructor("!", _cfn_tag)


def load_template() -> dict[str, Any]:
    """template.yaml, its short tags read as long-form dicts."""
    data = yaml.load(TEMPLATE_PATH.read_text(encoding="utf-8"), Loader=CfnLoader)
    assert isinstance(data, dict)
    return data


def resources_of(template: dict[str, Any], rtype: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v.get("Type") == rtype}


def functions(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {k: v.get("Properties") or {} for k, v in resources_of(template, "AWS::Serverless::Function").items()}


def global_fn(template: dict[str, Any]) -> dict[str, Any]:
    return dict((template.get("Globals") or {}).get("Function") or {})


def fn_prop(template: dict[str, Any], props: dict[str, Any], name: str) -> Any:
    """A function property with SAM's Globals applied (a function's own value wins)."""
    return props[name] if name in props else global_fn(template).get(name)


def env_vars(template: dict[str, Any], props: dict[str, Any]) -> dict[str, Any]:
    merged = dict(((global_fn(template).get("Environment") or {}).get("Variables")) or {})
    merged.update(((props.get("Environment") or {}).get("Variables")) or {})
    return merged


def the_api(template: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    apis = resources_of(template, "AWS::Serverless::Api")
    assert len(apis) == 1, f"expected one REST API, found {sorted(apis)}"
    ((logical_id, resource),) = apis.items()
    return logical_id, resource["Properties"]


def authorizer_function_id(template: dict[str, Any]) -> str:
    _, api = the_api(template)
    auth = api["Auth"]
    arn = auth["Authorizers"][auth["DefaultAuthorizer"]]["FunctionArn"]
    return str(arn["Fn::GetAtt"][0])


def api_events(props: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: ev.get("Properties") or {} for name, ev in (props.get("Events") or {}).items() if ev.get("Type") == "Api"
    }


def function_folder(props: dict[str, Any]) -> str | None:
    code_uri = props.get("CodeUri")
    if not isinstance(code_uri, str):
        return None
    parts = Path(code_uri).parts
    return parts[1] if len(parts) == 2 and parts[0] == "functions" else None


def is_image(props: dict[str, Any]) -> bool:
    return props.get("PackageType") == "Image"


def function_folder_of(template: dict[str, Any], logical_id: str) -> str | None:
    """functions/<folder> of a function: its CodeUri, or (a container image) its Dockerfile's folder."""
    resource = template["Resources"][logical_id]
    props = resource.get("Properties") or {}
    if not is_image(props):
        return function_folder(props)
    parts = Path(str((resource.get("Metadata") or {}).get("Dockerfile", ""))).parts
    return parts[1] if len(parts) == 3 and parts[0] == "functions" and parts[2] == "Dockerfile" else None


def handler_of(template: dict[str, Any], props: dict[str, Any]) -> str:
    """module.function: Handler, or (a container image) the one word of ImageConfig.Command."""
    if is_image(props):
        (command,) = props["ImageConfig"]["Command"]
        return str(command)
    return str(fn_prop(template, props, "Handler"))


# ------------------------------------------------------------------ runtime and build
