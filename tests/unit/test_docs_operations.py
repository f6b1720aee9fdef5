"""docs/deploy.md and docs/operations.md say what template.yaml does.

deploy.md's parameter table names every parameter; its costs quote each function's memory as the template
sets it, every SnapStart function and the number of alarms; operations.md explains every alarm the template
raises and every dead-letter queue with its consumer.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.helpers.template import ROOT, fn_prop, functions, load_template, resources_of

DEPLOY = ROOT / "docs" / "deploy.md"
OPERATIONS = ROOT / "docs" / "operations.md"
# "`ConvertFunction` at 2,048 MB", or a list: "`KeysFunction`, `FilesFunction` and `WebhooksFunction` at 512 MB".
MEMORY_QUOTE = re.compile(r"((?:`\w+Function`(?:, | and )?)+) at ([\d,]+) MB")
ALARM_COUNT = re.compile(r"(\d+) alarms \((\d+) plain, (\d+) of two metrics\)")
# An alarm name's subject that stands for a kind of resource in operations.md's table.
PLACEHOLDERS = (("Function", "<Function>"), ("Table", "<Table>"), ("Queue", "<Queue>"))


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template()


def _section(markdown: str, heading: str) -> str:
    start = markdown.index(f"\n{heading}\n")
    end = markdown.find("\n## ", start + 1)
    return markdown[start : end if end != -1 else len(markdown)]


def _row_of(markdown: str, prefix: str) -> str:
    (row,) = [line for line in markdown.splitlines() if line.startswith(prefix)]
    return row


def memory_quotes(markdown: str) -> dict[str, int]:
    """Function → the memory (MB) a page quotes for it."""
    quoted: dict[str, int] = {}
    for names, megabytes in MEMORY_QUOTE.findall(markdown):
        for name in re.findall(r"`(\w+Function)`", names):
            quoted[name] = int(megabytes.replace(",", ""))
    return quoted


def alarm_row_name(alarm_name: str) -> str:
    """`${AWS::StackName} KeysFunction errors` → `<Function> errors`, as operations.md's table names it."""
    subject, _, what = alarm_name.removeprefix("${AWS::StackName} ").partition(" ")
    for suffix, placeholder in PLACEHOLDERS:
        if subject.endswith(suffix):
            return f"{placeholder} {what}"
    return f"{subject} {what}".strip()


def test_every_parameter_is_in_the_table(template: dict[str, Any]) -> None:
    table = _section(DEPLOY.read_text(encoding="utf-8"), "## Parameters")
    named = set(re.findall(r"`([\w<>]+)`", table))
    missing = [
        name
        for name in template["Parameters"]
        if name not in named and not (name.endswith("ReservedConcurrency") and "<Function>ReservedConcurrency" in named)
    ]
    assert missing == [], f"docs/deploy.md's Parameters table lacks {missing}"


def test_the_costs_quote_each_functions_memory(template: dict[str, Any]) -> None:
    costs = _section(DEPLOY.read_text(encoding="utf-8"), "## What it costs")
    quoted = memory_quotes(costs)
    assert quoted, "the costs name no function's memory"
    every = functions(template)
    wrong = {
        name: (megabytes, fn_prop(template, every.get(name, {}), "MemorySize"))
        for name, megabytes in quoted.items()
        if name not in every or fn_prop(template, every[name], "MemorySize") != megabytes
    }
    assert wrong == {}, f"docs/deploy.md quotes (MB, template's MemorySize): {wrong}"


def test_the_idle_cost_counts_the_template(template: dict[str, Any]) -> None:
    idle = _row_of(_section(DEPLOY.read_text(encoding="utf-8"), "## What it costs"), "| **Idle**")
    snapstart = {name for name, props in functions(template).items() if fn_prop(template, props, "SnapStart")}
    assert set(memory_quotes(idle)) == snapstart
    alarms = resources_of(template, "AWS::CloudWatch::Alarm").values()
    of_two_metrics = sum(1 for alarm in alarms if "Metrics" in alarm["Properties"])
    match = ALARM_COUNT.search(idle)
    assert match is not None, "the idle row counts no alarms"
    assert tuple(map(int, match.groups())) == (len(alarms), len(alarms) - of_two_metrics, of_two_metrics)


def test_every_alarm_has_a_row_in_operations(template: dict[str, Any]) -> None:
    table = _section(OPERATIONS.read_text(encoding="utf-8"), "## The alarms, and what to do")
    rows = [line.split("|")[1] for line in table.splitlines() if line.startswith("| `")]
    explained = set(re.findall(r"`([^`]+)`", "".join(rows)))
    names = {
        alarm_row_name(alarm["Properties"]["AlarmName"]["Fn::Sub"])
        for alarm in resources_of(template, "AWS::CloudWatch::Alarm").values()
    }
    assert sorted(names - explained) == [], "docs/operations.md explains no such alarm"


def test_every_dead_letter_queue_and_its_consumer_are_in_operations(template: dict[str, Any]) -> None:
    dead_letters = _section(OPERATIONS.read_text(encoding="utf-8"), "## Dead letters")
    consumers = {
        str(event["Properties"]["Queue"]["Fn::GetAtt"][0]): name
        for name, props in functions(template).items()
        for event in (props.get("Events") or {}).values()
        if event.get("Type") == "SQS"
    }
    for queue in resources_of(template, "AWS::SQS::Queue"):
        if not queue.endswith("DeadLetterQueue"):
            continue
        row = _row_of(dead_letters, f"| `{queue}`")
        assert f"`{consumers[queue]}`" in row if queue in consumers else "| nothing |" in row, row


def test_the_readers_can_fail() -> None:
    assert memory_quotes("`AFunction` and `BFunction` at 3,008 MB; `CFunction` at 512 MB") == {
        "AFunction": 3008,
        "BFunction": 3008,
        "CFunction": 512,
    }
    assert alarm_row_name("${AWS::StackName} MediaDeadLetterQueue age") == "<Queue> age"
    assert alarm_row_name("${AWS::StackName} API 5xx rate") == "API 5xx rate"
    assert alarm_row_name("${AWS::StackName} documents dead-lettered") == "documents dead-lettered"
