"""infra/deploy.py (`make deploy`): at most the two questions, answers checked and remembered, samconfig's
parameters kept, and a command SAM parses."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.helpers.infra import infra_module

deploy = infra_module("deploy")

# SAM CLI's own pattern for one KEY=VALUE item of --parameter-overrides (samcli/cli/types.py).
SAM_ITEM = re.compile(r"""(?:"|')?(?P<key>[A-Za-z0-9"]+)=(?P<value>"(?:\\"|[^"])*"|'(?:\\'|[^'])*'|[^ ]+)""")


def scripted(*replies: str) -> tuple[list[str], object]:
    asked: list[str] = []
    pending = list(replies)

    def read(prompt: str) -> str:
        asked.append(prompt)
        return pending.pop(0)

    return asked, read


def test_two_questions_with_the_answers_checked() -> None:
    asked, read = scripted("nobody", "no-reply@filegate.example", "mail@example.com", "")
    answers = deploy.answers_for("dev", environ={}, remembered={}, read=read, interactive=True)  # type: ignore[arg-type]
    assert answers == {"EmailSender": "mail@example.com", "AlarmEmail": ""}
    assert len({q.split(" [")[0] for q in asked}) == 2  # a wrong answer asks the same question again
    assert len(asked) == 4


def test_remembered_answers_are_the_defaults() -> None:
    asked, read = scripted("", "")
    remembered = {"EmailSender": "mail@example.com", "AlarmEmail": "ops@example.com"}
    answers = deploy.answers_for("prod", environ={}, remembered=remembered, read=read, interactive=True)  # type: ignore[arg-type]
    assert answers == remembered
    assert "[mail@example.com]" in asked[0]


def test_without_a_terminal_the_environment_answers_or_it_stops() -> None:
    environ = {"EMAIL_SENDER": "mail@example.com", "ALARM_EMAIL": "ops@example.com"}
    answers = deploy.answers_for("dev", environ=environ, remembered={}, read=input, interactive=False)
    assert answers == {"EmailSender": "mail@example.com", "AlarmEmail": "ops@example.com"}
    with pytest.raises(deploy.DeployError):
        deploy.answers_for("dev", environ={}, remembered={}, read=input, interactive=False)


def test_answers_are_saved_per_environment(tmp_path: Path) -> None:
    path = tmp_path / "samconfig.local.toml"
    deploy.save_answers(path, "dev", {"EmailSender": "a@example.com", "AlarmEmail": ""})
    deploy.save_answers(path, "prod", {"EmailSender": "b@example.com", "AlarmEmail": "ops@example.com"})
    assert deploy.saved_answers(path, "dev") == {"EmailSender": "a@example.com", "AlarmEmail": ""}
    assert deploy.saved_answers(path, "prod")["EmailSender"] == "b@example.com"


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_the_command_keeps_samconfig_and_adds_the_answers(env: str) -> None:
    overrides = deploy.samconfig_overrides(deploy.SAMCONFIG, env)
    assert f"StageName={env}" in overrides
    answers = {"EmailSender": "mail@example.com", "AlarmEmail": ""}
    command = deploy.deploy_command("sam", env, overrides, answers, [])
    assert command[:5] == ["sam", "deploy", "--config-env", env, "--parameter-overrides"]
    parsed = {m["key"]: m["value"].strip('"') for m in SAM_ITEM.finditer(command[5])}
    assert parsed["StageName"] == env
    assert parsed["EmailSender"] == "mail@example.com"
    assert parsed["AlarmEmail"] == ""
    assert len(parsed) == len(overrides) + 2


def test_only_prod_sets_the_per_region_api_gateway_role() -> None:
    assert "CreateApiGatewayAccountRole=true" in deploy.samconfig_overrides(deploy.SAMCONFIG, "prod")
    assert "CreateApiGatewayAccountRole=true" not in deploy.samconfig_overrides(deploy.SAMCONFIG, "dev")
