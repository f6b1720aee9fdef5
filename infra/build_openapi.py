"""Write (or check) the API's OpenAPI document and the SDK's types from the HTTP functions' apps: `make openapi`.

    python infra/build_openapi.py           write openapi.json, layers/common/filegate/openapi.json and the SDK's
                                            clients/python/src/filegate_client/types.py
    python infra/build_openapi.py --check   exit 1 if any is stale (a test runs this)

Each function's app.py is imported with the environment template.yaml gives it (resolved as the local stack
does, pointing at an unreachable endpoint: building the document calls no AWS), then
openapi_builder.build_document merges them with the route table and the template's gateway responses. The SDK's
TypedDicts come from the same models (sdk_types).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "layers" / "common"), str(ROOT / "infra")]

import openapi_builder as openapi  # noqa: E402
import sdk_types  # noqa: E402

from filegate.api_document import DOCUMENT_FILE  # noqa: E402
from filegate.routes import ROUTES  # noqa: E402
from filegate_local.model import build_model  # noqa: E402
from filegate_local.template import Template  # noqa: E402
from filegate_local.workers import function_environment  # noqa: E402

DOCUMENTS = (ROOT / "openapi.json", DOCUMENT_FILE)
NOWHERE = "http://127.0.0.1:9"  # discard port: nothing listens, so an accidental AWS call fails fast
SERVERS: list[dict[str, Any]] = [
    {
        "url": "https://{api_id}.execute-api.{region}.amazonaws.com/{stage}",
        "description": "A deployed stack (sam deploy)",
        "variables": {
            "api_id": {"default": "api-id"},
            "region": {"default": "us-east-1"},
            "stage": {"default": "v1"},
        },
    },
    {"url": "http://127.0.0.1:3000", "description": "The local stack (make dev)"},
]


def _load_app(name: str, code_dir: Path, environment: dict[str, str]) -> Any:
    saved = dict(os.environ)
    os.environ.update(environment)
    try:
        spec = importlib.util.spec_from_file_location(f"filegate_function_{name}", code_dir / "app.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # pydantic resolves the models' annotations through it
        spec.loader.exec_module(module)
        return module.app
    finally:
        os.environ.clear()
        os.environ.update(saved)


def gateway_answers(template: Template) -> list[openapi.GatewayAnswer]:
    """The API's GatewayResponses with a fixed status and error code (the template is the source)."""
    answers = []
    for api in template.of_type("AWS::Serverless::Api"):
        responses = template.properties(api).get("GatewayResponses") or {}
        for kind, spec in responses.items():
            status = spec.get("StatusCode")
            body = (spec.get("ResponseTemplates") or {}).get("application/json", "")
            try:
                code = json.loads(body.replace("$context.requestId", ""))["error"]["code"]
            except (ValueError, KeyError, TypeError):
                continue  # a code filled in at run time ($context.authorizer.deny_code)
            if status and not str(code).startswith("$"):
                answers.append(openapi.GatewayAnswer(int(status), str(code), kind))
    return answers


def load_apps(template: Template) -> dict[str, Any]:
    """Each HTTP function's FastAPI app, by function folder, imported with its template environment."""
    model = build_model(template)
    wanted = {route.function for route in ROUTES}
    apps = {}
    for spec in model.functions.values():
        name = spec.code_dir.name
        if name in wanted and name not in apps:
            env = function_environment(spec, moto_endpoint=NOWHERE, base_env={})
            apps[name] = _load_app(name, spec.code_dir, env)
    missing = wanted - set(apps)
    if missing:
        raise SystemExit(f"error: no function in template.yaml for {sorted(missing)}")
    return apps


def build() -> dict[Path, str]:
    template = Template(ROOT / "template.yaml", moto_endpoint=NOWHERE)
    document = openapi.build_document(load_apps(template), gateway=gateway_answers(template), servers=SERVERS)
    text = openapi.render(document)
    return {**dict.fromkeys(DOCUMENTS, text), sdk_types.OUTPUT: sdk_types.render()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if a committed copy is stale")
    args = parser.parse_args()
    outputs = build()
    stale = [p for p, text in outputs.items() if not p.is_file() or p.read_text(encoding="utf-8") != text]
    if args.check:
        for path in stale:
            print(f"stale: {path.relative_to(ROOT)} (run `make openapi`)", file=sys.stderr)
        return 1 if stale else 0
    for path in stale:
        path.write_text(outputs[path], encoding="utf-8")
        print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
