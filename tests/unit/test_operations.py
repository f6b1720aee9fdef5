"""template.yaml as an operator runs it (docs/operations.md, docs/deploy.md): every function logs to a log
group of its own that expires, every function, table and queue has its alarms, every alarm notifies the alarm
topic, per-region singletons are created only where asked, and the optional domain and firewall follow
their parameters.

The rules walk the template, so a new function, table or queue fails here until it has its log group and
alarms; the failure prints the YAML to add.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from filegate.api_document import document_bytes, document_for
from filegate.tiers import TIERS
from tests.helpers.infra import infra_module
from tests.helpers.template import fn_prop, functions, load_template, resources_of, the_api

deploy = infra_module("deploy")

ALARM = "AWS::CloudWatch::Alarm"
LOG_GROUP = "AWS::Logs::LogGroup"
DURATION_SHARE = 0.8  # a function is alarmed when it runs this share of its timeout


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template()


def ref(value: Any) -> str | None:
    return value.get("Ref") if isinstance(value, dict) else None


def alarms(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {k: v["Properties"] for k, v in resources_of(template, ALARM).items()}


def metrics_of(alarm: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(namespace, metric name, dimensions) of every metric an alarm reads, plain or in metric math."""
    if "MetricName" in alarm:
        dims = {d["Name"]: d["Value"] for d in alarm.get("Dimensions") or []}
        return [(alarm["Namespace"], alarm["MetricName"], dims)]
    found = []
    for query in alarm.get("Metrics") or []:
        metric = (query.get("MetricStat") or {}).get("Metric")
        if metric:
            dims = {d["Name"]: d["Value"] for d in metric.get("Dimensions") or []}
            found.append((metric["Namespace"], metric["MetricName"], dims))
    return found


def alarms_on(
    template: dict[str, Any], namespace: str, metric: str, dimension: str, value: Any
) -> list[dict[str, Any]]:
    return [
        alarm
        for alarm in alarms(template).values()
        if any(
            ns == namespace and name == metric and dims.get(dimension) == value for ns, name, dims in metrics_of(alarm)
        )
    ]


def function_blocks(function: str, timeout: int) -> str:
    """The YAML a new function needs (printed by the failing test, to paste into template.yaml)."""
    lines = [
        f"      LoggingConfig: {{LogGroup: !Ref {function}LogGroup}}   # in {function}'s Properties",
        "",
        f"  {function}LogGroup:",
        "    Type: AWS::Logs::LogGroup",
        "    DeletionPolicy: Delete",
        "    UpdateReplacePolicy: Delete",
        "    Properties:",
        f'      LogGroupName: !Sub "/aws/lambda/${{AWS::StackName}}-{function}"',
        "      RetentionInDays: !Ref LogRetentionDays",
    ]
    for metric, statistic, threshold, operator in (
        ("Errors", "Sum", 0, "GreaterThanThreshold"),
        ("Throttles", "Sum", 0, "GreaterThanThreshold"),
        ("Duration", "Maximum", int(timeout * 1000 * DURATION_SHARE), "GreaterThanOrEqualToThreshold"),
    ):
        lines += [
            "",
            f"  {function}{metric}Alarm:",
            "    Type: AWS::CloudWatch::Alarm",
            "    Properties:",
            f'      AlarmName: !Sub "${{AWS::StackName}} {function} {metric.lower()}"',
            f"      AlarmDescription: {function} {metric.lower()} (docs/operations.md).",
            "      AlarmActions: [!Ref AlarmTopic]",
            "      OKActions: [!Ref AlarmTopic]",
            "      Namespace: AWS/Lambda",
            f"      MetricName: {metric}",
            f"      Dimensions: [{{Name: FunctionName, Value: !Ref {function}}}]",
            f"      Statistic: {statistic}",
            "      Period: 300",
            "      EvaluationPeriods: 1",
            f"      Threshold: {threshold}",
            f"      ComparisonOperator: {operator}",
            "      TreatMissingData: notBreaching",
        ]
    return "\n".join(lines)


def timeout_of(template: dict[str, Any], props: dict[str, Any]) -> int:
    return int(fn_prop(template, props, "Timeout") or 3)


# ------------------------------------------------------------------ logs


def test_every_function_logs_to_its_own_expiring_log_group(template: dict[str, Any]) -> None:
    groups = resources_of(template, LOG_GROUP)
    missing = []
    for name, props in functions(template).items():
        group = ref((props.get("LoggingConfig") or {}).get("LogGroup"))
        if group not in groups:
            missing.append(function_blocks(name, timeout_of(template, props)))
            continue
        assert groups[group]["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}, group
    assert not missing, "functions without their log group; add:\n\n" + "\n\n".join(missing)


def test_every_log_group_expires_after_log_retention_days(template: dict[str, Any]) -> None:
    parameter = template["Parameters"]["LogRetentionDays"]
    assert parameter["Default"] == 30
    assert 30 in parameter["AllowedValues"]
    for name, group in resources_of(template, LOG_GROUP).items():
        assert group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}, name
        assert group.get("DeletionPolicy") == "Delete", f"{name}: a removed stack leaves no log group behind"


def test_two_functions_never_share_a_log_group(template: dict[str, Any]) -> None:
    used = [ref((p.get("LoggingConfig") or {}).get("LogGroup")) for p in functions(template).values()]
    assert len(used) == len(set(used))


# ------------------------------------------------------------------ alarms


def test_every_alarm_notifies_the_alarm_topic(template: dict[str, Any]) -> None:
    (topic,) = resources_of(template, "AWS::SNS::Topic")
    for name, alarm in alarms(template).items():
        assert {"Ref": topic} in (alarm.get("AlarmActions") or []), f"{name} notifies nobody"


def test_the_alarm_email_is_an_optional_subscription(template: dict[str, Any]) -> None:
    assert template["Parameters"]["AlarmEmail"]["Default"] == ""
    assert template["Conditions"]["HasAlarmEmail"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "AlarmEmail"}, ""]}]}
    (subscription,) = resources_of(template, "AWS::SNS::Subscription").values()
    assert subscription["Condition"] == "HasAlarmEmail"
    assert subscription["Properties"]["Protocol"] == "email"
    assert subscription["Properties"]["Endpoint"] == {"Ref": "AlarmEmail"}
    assert re.fullmatch(template["Parameters"]["AlarmEmail"]["AllowedPattern"], "")
    assert re.fullmatch(template["Parameters"]["AlarmEmail"]["AllowedPattern"], "ops@example.com")
    assert not re.fullmatch(template["Parameters"]["AlarmEmail"]["AllowedPattern"], "not an address")


def test_every_function_has_errors_throttles_and_duration_alarms(template: dict[str, Any]) -> None:
    missing = []
    for name, props in functions(template).items():
        timeout_ms = timeout_of(template, props) * 1000
        dimension = {"Ref": name}
        errors = alarms_on(template, "AWS/Lambda", "Errors", "FunctionName", dimension)
        throttles = alarms_on(template, "AWS/Lambda", "Throttles", "FunctionName", dimension)
        durations = alarms_on(template, "AWS/Lambda", "Duration", "FunctionName", dimension)
        if not (errors and throttles and durations):
            missing.append(function_blocks(name, timeout_of(template, props)))
            continue
        assert all(
            a["Threshold"] == 0 and a["ComparisonOperator"] == "GreaterThanThreshold" for a in errors + throttles
        )
        (duration,) = durations
        assert duration["Threshold"] == int(timeout_ms * DURATION_SHARE), f"{name}: 80 % of its {timeout_ms} ms"
        assert duration["Statistic"] == "Maximum"
    assert not missing, "functions without their alarms; add:\n\n" + "\n\n".join(missing)


def test_every_table_has_a_throttle_alarm(template: dict[str, Any]) -> None:
    for name in resources_of(template, "AWS::DynamoDB::Table"):
        dimension = {"Ref": name}
        reads = alarms_on(template, "AWS/DynamoDB", "ReadThrottleEvents", "TableName", dimension)
        writes = alarms_on(template, "AWS/DynamoDB", "WriteThrottleEvents", "TableName", dimension)
        assert reads and reads == writes, f"{name}: one alarm on its throttled reads and writes"
        expressions = [m["Expression"] for m in reads[0]["Metrics"] if "Expression" in m]
        assert expressions == ["FILL(reads, 0) + FILL(writes, 0)"]


def dead_letter_queues(template: dict[str, Any]) -> set[str]:
    targets = set()
    for queue in resources_of(template, "AWS::SQS::Queue").values():
        redrive = (queue.get("Properties") or {}).get("RedrivePolicy")
        if redrive:
            targets.add(redrive["deadLetterTargetArn"]["Fn::GetAtt"][0])
    return targets


def test_every_queue_has_an_oldest_message_age_alarm(template: dict[str, Any]) -> None:
    for name in resources_of(template, "AWS::SQS::Queue"):
        dimension = {"Fn::GetAtt": [name, "QueueName"]}
        ages = alarms_on(template, "AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", dimension)
        assert len(ages) == 1, f"{name}: one alarm on the age of its oldest message"
        assert 0 < ages[0]["Threshold"] <= 86400


def test_every_dead_letter_queue_alarms_on_its_first_message(template: dict[str, Any]) -> None:
    dlqs = dead_letter_queues(template)
    assert {
        "ConversionsDeadLetterQueue",
        "MediaDeadLetterQueue",
        "ImportsDeadLetterQueue",
        "WebhooksDeadLetterQueue",
    } <= dlqs
    for name in dlqs:
        dimension = {"Fn::GetAtt": [name, "QueueName"]}
        (alarm,) = alarms_on(template, "AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", dimension)
        assert (alarm["Statistic"], alarm["Threshold"], alarm["ComparisonOperator"]) == (
            "Maximum",
            0,
            "GreaterThanThreshold",
        )


def test_the_api_alarms_on_its_5xx_rate(template: dict[str, Any]) -> None:
    _, api = the_api(template)
    (alarm,) = alarms_on(template, "AWS/ApiGateway", "5XXError", "ApiName", api["Name"])
    assert alarm["Dimensions"][1] == {"Name": "Stage", "Value": {"Ref": "StageName"}}
    # 5XXError's average is the share of requests answered 5xx.
    assert (alarm["Statistic"], alarm["Threshold"]) == ("Average", 0.01)


def test_authorizer_failures_are_counted_from_the_access_log_and_alarmed(template: dict[str, Any]) -> None:
    _, api = the_api(template)
    access_log = api["AccessLogSetting"]["DestinationArn"]["Fn::GetAtt"][0]
    assert '"errorType":"$context.error.responseType"' in api["AccessLogSetting"]["Format"]
    (metric_filter,) = resources_of(template, "AWS::Logs::MetricFilter").values()
    props = metric_filter["Properties"]
    assert props["LogGroupName"] == {"Ref": access_log}
    for response_type in ("AUTHORIZER_FAILURE", "AUTHORIZER_CONFIGURATION_ERROR"):
        assert f'$.errorType = "{response_type}"' in props["FilterPattern"]
    (transformation,) = props["MetricTransformations"]
    (alarm,) = [
        a
        for a in alarms(template).values()
        if a.get("MetricName") == transformation["MetricName"]
        and a.get("Namespace") == transformation["MetricNamespace"]
    ]
    assert (alarm["Statistic"], alarm["Threshold"]) == ("Sum", 0)


def test_the_dashboard_shows_requests_latency_errors_conversions_and_queues(template: dict[str, Any]) -> None:
    (dashboard,) = resources_of(template, "AWS::CloudWatch::Dashboard").values()
    body_template, variables = dashboard["Properties"]["DashboardBody"]["Fn::Sub"]
    assert set(variables) == {"Url"}
    # What CloudFormation substitutes, with stand-ins: the rest must be a dashboard body (JSON).
    body = json.loads(re.sub(r"\$\{[^}]+\}", "x", body_template))
    titles = [w["properties"]["title"] for w in body["widgets"]]
    text = json.dumps(body)
    for what in ("Requests", "Latency", "errors", "Conversions", "Queue depths"):
        assert any(what in title for title in titles), what
    assert '"p50"' in text and '"p99"' in text
    assert "ConversionsSucceeded" in text and "ConversionsFailed" in text
    for queue in resources_of(template, "AWS::SQS::Queue"):
        assert "${" + queue + ".QueueName}" in body_template, f"{queue}'s depth is on the dashboard"


# ------------------------------------------------------------------ per-region singletons, domain, firewall


def test_the_api_gateway_account_role_is_created_only_where_asked(template: dict[str, Any]) -> None:
    assert template["Parameters"]["CreateApiGatewayAccountRole"]["Default"] == "false"
    for name in ("ApiGatewayLogsRole", "ApiGatewayAccount"):
        assert template["Resources"][name]["Condition"] == "ShouldCreateApiGatewayAccountRole"
    api_id, _ = the_api(template)
    handle = template["Resources"][template["Resources"][api_id]["DependsOn"]]
    assert handle["Type"] == "AWS::CloudFormation::WaitConditionHandle"
    assert handle["Metadata"]["AccountSettings"]["Fn::If"][:2] == [
        "ShouldCreateApiGatewayAccountRole",
        {"Ref": "ApiGatewayAccount"},
    ]


def test_the_custom_domain_is_optional_and_needs_a_certificate(template: dict[str, Any]) -> None:
    params = template["Parameters"]
    assert params["DomainName"]["Default"] == params["CertificateArn"]["Default"] == ""
    assert re.fullmatch(params["DomainName"]["AllowedPattern"], "api.example.com")
    assert not re.fullmatch(params["DomainName"]["AllowedPattern"], "https://api.example.com/")
    domain = template["Resources"]["ApiDomain"]
    assert domain["Condition"] == "HasDomainName"
    assert domain["Properties"]["EndpointConfiguration"] == {"Types": ["REGIONAL"]}
    assert domain["Properties"]["SecurityPolicy"] == "TLS_1_2"
    mapping = template["Resources"]["ApiDomainMapping"]
    assert mapping["Condition"] == "HasDomainName"
    assert "BasePath" not in mapping["Properties"], "the stage sits at the domain's root"
    rule = template["Rules"]["DomainNeedsCertificate"]
    assert rule["Assertions"][0]["Assert"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "CertificateArn"}, ""]}]}


def test_the_urls_follow_the_domain(template: dict[str, Any]) -> None:
    outputs = template["Outputs"]
    for name in ("ApiUrl", "DashboardUrl"):
        condition, with_domain, _ = outputs[name]["Value"]["Fn::If"]
        assert condition == "HasDomainName"
        assert with_domain["Fn::Sub"].startswith("https://${DomainName}")
    for name in ("DomainTarget", "DomainHostedZoneId"):
        assert outputs[name]["Condition"] == "HasDomainName"
    # One rule: PublicBaseUrl when given (a proxy in front), else the custom domain, else API Gateway's address.
    domain = {"Fn::If": ["HasDomainName", {"Fn::Sub": "https://${DomainName}"}, ""]}
    public = {"Fn::If": ["HasPublicBaseUrl", {"Ref": "PublicBaseUrl"}, domain]}
    readers = [
        n
        for n, p in functions(template).items()
        if "PUBLIC_BASE_URL" in ((p.get("Environment") or {}).get("Variables") or {})
    ]
    assert sorted(readers) == ["DashboardFunction", "KeysFunction"]
    for name in readers:
        assert functions(template)[name]["Environment"]["Variables"]["PUBLIC_BASE_URL"] == public


def test_the_firewall_is_optional_and_never_refuses_a_customer_within_its_tier(template: dict[str, Any]) -> None:
    assert template["Parameters"]["EnableWaf"]["Default"] == "false"
    acl = template["Resources"]["ApiWebAcl"]
    association = template["Resources"]["ApiWebAclAssociation"]
    assert acl["Condition"] == association["Condition"] == "WafEnabled"
    rules = {r["Name"]: r for r in acl["Properties"]["Rules"]}
    managed = {
        r["Statement"]["ManagedRuleGroupStatement"]["Name"]
        for r in rules.values()
        if "ManagedRuleGroupStatement" in r["Statement"]
    }
    assert managed == {"AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet"}
    (rate,) = [r["Statement"]["RateBasedStatement"] for r in rules.values() if "RateBasedStatement" in r["Statement"]]
    assert (rate["AggregateKeyType"], rate["EvaluationWindowSec"]) == ("IP", 60)
    assert rate["Limit"] == {"Ref": "WafRequestsPerIpPerMinute"}
    largest = max(tier.requests_per_minute for tier in TIERS.values())
    assert template["Parameters"]["WafRequestsPerIpPerMinute"]["Default"] > largest
    # Uploads are larger than the common rule set's 8 KB body limit.
    overrides = rules["aws-common"]["Statement"]["ManagedRuleGroupStatement"]["RuleActionOverrides"]
    assert {"Name": "SizeRestrictions_BODY", "ActionToUse": {"Count": {}}} in overrides
    assert "${Api.Stage}" in association["Properties"]["ResourceArn"]["Fn::Sub"]


def test_a_deploy_asks_only_what_has_no_sensible_default(template: dict[str, Any]) -> None:
    """docs/deploy.md: the target picks the stage, `make deploy` asks the sender and the alarm email; every
    other parameter has a default (in the template or samconfig.toml)."""
    assert [name for name, spec in template["Parameters"].items() if "Default" not in spec] == []
    answers = deploy.answers_for(
        "dev", environ={"EMAIL_SENDER": "a@example.com"}, remembered={}, read=input, interactive=False
    )
    assert set(answers) == {"EmailSender", "AlarmEmail"} <= set(template["Parameters"])
    assert "StageName=dev" in deploy.samconfig_overrides(deploy.SAMCONFIG, "dev")


# ------------------------------------------------------------------ the public address


def test_the_openapi_servers_follow_the_public_base_url() -> None:
    assert document_for("") == document_bytes()
    document = json.loads(document_for("https://api.example.com/"))
    assert document["servers"] == [{"url": "https://api.example.com", "description": "This deployment"}]
    assert document["paths"] == json.loads(document_bytes())["paths"]
