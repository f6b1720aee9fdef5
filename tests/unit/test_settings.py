"""Each function's environment in template.yaml against its settings class in ``filegate.settings``.

A required field the template does not set fails the cold start in AWS; a variable no field reads is
dead configuration (or a second reader of the environment somewhere). Both fail here instead.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import pytest

from filegate import settings as settings_module
from filegate.settings import (
    ActivitySettings,
    AuthorizerSettings,
    BaseSettings,
    ConvertSettings,
    DashboardSettings,
    DispatcherSettings,
    DocumentsSettings,
    FilesSettings,
    ImportSettings,
    KeysSettings,
    MediaWorkerSettings,
    SecretScanningSettings,
    SettingsError,
    StamperSettings,
    WebhooksSettings,
    WorkerSettings,
)
from tests.helpers.template import ROOT, env_vars, function_folder_of, functions, load_template

# Logical id → the settings class its handler module reads at cold start.
SETTINGS_OF: dict[str, type[BaseSettings]] = {
    "AuthorizerFunction": AuthorizerSettings,
    "KeysFunction": KeysSettings,
    "ConvertFunction": ConvertSettings,
    "FilesFunction": FilesSettings,
    "WorkerFunction": WorkerSettings,
    "WorkerDeadLetterFunction": WorkerSettings,
    "MediaWorkerFunction": MediaWorkerSettings,
    "MediaWorkerDeadLetterFunction": MediaWorkerSettings,
    "DocumentsFunction": DocumentsSettings,
    "DocumentsDeadLetterFunction": DocumentsSettings,
    "WebhooksFunction": WebhooksSettings,
    "DispatcherFunction": DispatcherSettings,
    "StamperFunction": StamperSettings,
    "ActivityFunction": ActivitySettings,
    "ImportFunction": ImportSettings,
    "ImportDeadLetterFunction": ImportSettings,
    "DashboardFunction": DashboardSettings,
    "SecretScanningFunction": SecretScanningSettings,
}
READ_BY_LIBRARIES = re.compile(r"POWERTOOLS_[A-Z_]+|AWS_ENDPOINT_URL")  # and boto3's endpoint (sam local)


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template()


def _variable(field: dataclasses.Field[Any]) -> str:
    return field.name.upper()


def _required(cls: type[BaseSettings]) -> set[str]:
    return {
        _variable(f)
        for f in dataclasses.fields(cls)
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    }


def _read(cls: type[BaseSettings]) -> set[str]:
    return {_variable(f) for f in dataclasses.fields(cls)} | set(cls._aliases.values())


def test_every_function_has_a_settings_class(template: dict[str, Any]) -> None:
    assert set(functions(template)) == set(SETTINGS_OF)


@pytest.mark.parametrize("logical_id", sorted(SETTINGS_OF))
def test_handler_reads_the_class_named_for_it(template: dict[str, Any], logical_id: str) -> None:
    folder = function_folder_of(template, logical_id)
    source = (ROOT / "functions" / str(folder) / "app.py").read_text(encoding="utf-8")
    cls = SETTINGS_OF[logical_id]
    assert f"{cls.__name__}.from_env()" in source, f"functions/{folder}/app.py does not read {cls.__name__}"
    assert len(re.findall(r"\w+Settings\.from_env\(\)", source)) == 1, f"functions/{folder}: one settings class"


@pytest.mark.parametrize("logical_id", sorted(SETTINGS_OF))
def test_template_environment_matches_the_settings_class(template: dict[str, Any], logical_id: str) -> None:
    cls = SETTINGS_OF[logical_id]
    variables = set(env_vars(template, functions(template)[logical_id]))
    missing = _required(cls) - variables
    assert not missing, f"{logical_id}: {cls.__name__} needs {sorted(missing)}"
    unread = {v for v in variables - _read(cls) if not READ_BY_LIBRARIES.fullmatch(v)}
    assert not unread, f"{logical_id}: {cls.__name__} reads no {sorted(unread)}"


@pytest.mark.parametrize("logical_id", sorted(SETTINGS_OF))
def test_the_template_environment_parses(template: dict[str, Any], logical_id: str) -> None:
    """Every variable, with a stand-in for references and parameters' defaults, reads as its field's type."""
    parameters = template.get("Parameters") or {}

    def value(raw: Any) -> str:
        if isinstance(raw, dict) and "Ref" in raw and raw["Ref"] in parameters:
            return str(parameters[raw["Ref"]]["Default"])
        return raw if isinstance(raw, str) else "stand-in"

    variables = env_vars(template, functions(template)[logical_id])
    SETTINGS_OF[logical_id].from_env({k: value(v) for k, v in variables.items()})


def test_the_webhook_receive_count_is_one_parameter(template: dict[str, Any]) -> None:
    queue = template["Resources"]["WebhooksQueue"]["Properties"]["RedrivePolicy"]
    dispatcher = env_vars(template, functions(template)["DispatcherFunction"])
    assert queue["maxReceiveCount"] == {"Ref": "WebhookMaxReceives"}
    assert dispatcher["WEBHOOK_MAX_RECEIVES"] == {"Ref": "WebhookMaxReceives"}


def test_a_missing_or_unreadable_variable_names_itself() -> None:
    with pytest.raises(SettingsError, match="KEYS_TABLE is not set"):
        AuthorizerSettings.from_env({"ACCOUNTS_TABLE": "a"})
    env = {name: "x" for name in _required(DispatcherSettings)} | {"WEBHOOK_MAX_RECEIVES": "five"}
    with pytest.raises(SettingsError, match="WEBHOOK_MAX_RECEIVES"):
        DispatcherSettings.from_env(env)


def test_settings_is_the_only_reader_of_the_environment() -> None:
    sources = [*(ROOT / "layers" / "common" / "filegate").rglob("*.py"), *(ROOT / "functions").rglob("*.py")]
    readers = [
        str(path.relative_to(ROOT))
        for path in sources
        if re.search(r"os\.environ|getenv\(", path.read_text(encoding="utf-8"))
    ]
    assert readers == [str(Path(settings_module.__file__).resolve().relative_to(ROOT))]


def test_the_sync_budget_is_one_constant() -> None:
    # docs/api.md's 25 s: the convert function's setting defaults to it, and the media wait is that budget less
    # the time to answer, so shrinking the one setting (as a test does) shrinks both.
    from filegate import tiers
    from filegate.settings import ConvertSettings

    fields = {f.name: f for f in dataclasses.fields(ConvertSettings)}
    assert fields["sync_budget_seconds"].default == tiers.SYNC_BUDGET_SECONDS
    assert "media_sync_wait_seconds" not in fields
