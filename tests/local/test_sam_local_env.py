"""`make sam-local-env`: env.json gives `sam local start-api` every variable each function declares, with the
names the local stack created and the endpoint of its moto (docs/deploy.md "sam local")."""

import json
from pathlib import Path

from filegate_local.sam_env import main
from filegate_local.template import Template
from tests.helpers.template import TEMPLATE_PATH

MOTO = "http://127.0.0.1:4566"


def test_every_function_gets_the_local_stacks_names_and_moto_among_the_variables_it_declares(tmp_path: Path) -> None:
    output = tmp_path / "env.json"
    assert main(["--template", str(TEMPLATE_PATH), "--moto-endpoint", MOTO, "--output", str(output)]) == 0
    written = json.loads(output.read_text(encoding="utf-8"))
    template = Template(TEMPLATE_PATH, stack_name="filegate-local", moto_endpoint=MOTO)
    assert set(written) == set(template.of_type("AWS::Serverless::Function"))
    assert written["KeysFunction"]["KEYS_TABLE"] == template.physical("KeysTable").name != "KeysTable"  # not sam's
    assert written["ConvertFunction"]["CONVERSIONS_QUEUE_URL"].startswith(MOTO + "/")
    declared_everywhere = set(template.raw["Globals"]["Function"]["Environment"]["Variables"])  # has the endpoint
    for logical_id, environment in written.items():  # sam local applies only variables the template declares
        own = set(template.raw_properties(logical_id).get("Environment", {}).get("Variables", {}))
        assert environment["AWS_ENDPOINT_URL"] == MOTO and set(environment) <= own | declared_everywhere, logical_id
