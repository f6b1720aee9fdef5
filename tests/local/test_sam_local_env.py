"""`make sam-local-env`: env.json gives `sam local start-api` every variable each function declares, with the
names the local stack created and the endpoint of its moto (docs/deploy.md "sam local")."""

from __future__ import annotations

import json
from pathlib import Path

from filegate_local.sam_env import ENDPOINT_VARIABLE, main, sam_local_environment
from filegate_local.template import Template
from tests.helpers.template import TEMPLATE_PATH

MOTO = "http://127.0.0.1:4566"


def test_every_function_gets_the_local_stacks_names_and_moto(tmp_path: Path) -> None:
    output = tmp_path / "env.json"
    assert main(["--template", str(TEMPLATE_PATH), "--moto-endpoint", MOTO, "--output", str(output)]) == 0
    written = json.loads(output.read_text(encoding="utf-8"))
    template = Template(TEMPLATE_PATH, stack_name="filegate-local", moto_endpoint=MOTO)
    assert set(written) == set(template.of_type("AWS::Serverless::Function"))
    keys_env = written["KeysFunction"]
    assert keys_env["KEYS_TABLE"] == template.physical("KeysTable").name  # what `make dev` created
    assert keys_env["KEYS_TABLE"] != "KeysTable"  # what sam local alone would have set
    assert written["ConvertFunction"]["CONVERSIONS_QUEUE_URL"].startswith(MOTO + "/")
    for environment in written.values():
        assert environment[ENDPOINT_VARIABLE] == MOTO


def test_only_variables_the_template_declares_so_sam_local_applies_them_all() -> None:
    environments = sam_local_environment(TEMPLATE_PATH, stack_name="filegate-local", moto_endpoint=MOTO)
    declared_everywhere = set(Template(TEMPLATE_PATH).raw["Globals"]["Function"]["Environment"]["Variables"])
    assert ENDPOINT_VARIABLE in declared_everywhere  # declared (empty in AWS) so that sam local may set it
    for logical_id, environment in environments.items():
        own = set(Template(TEMPLATE_PATH).raw_properties(logical_id).get("Environment", {}).get("Variables", {}))
        assert set(environment) <= own | declared_everywhere, logical_id
