"""Creating the template's tables, buckets and queues in moto, idempotently.

CloudFormation property names are mapped onto the API calls CloudFormation itself would make, for what
behaves differently without them (keys, indexes, streams, item TTLs, the bucket's lifecycle and CORS, queue
timeouts and redrive); encryption and backups change nothing locally and are left out. The ``EmailSender``
parameter's address is verified in moto's SES, as an operator verifies it in AWS once, so the functions can
send as it.
"""

from __future__ import annotations

import json
import logging
import urllib.request
from collections.abc import Callable
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from filegate_local.template import Template

log = logging.getLogger("filegate_local")

DUMMY_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
EMAIL_SENDER_PARAMETER = "EmailSender"


def client(service: str, endpoint: str, region: str) -> Any:
    return boto3.session.Session().client(
        service,  # type: ignore[call-overload]
        endpoint_url=endpoint,
        region_name=region,
        config=Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=5, read_timeout=30),
        **DUMMY_CREDENTIALS,
    )


class Provisioner:
    """Creates what the template declares in moto, dependencies first (a DLQ before its queue)."""

    def __init__(self, template: Template, endpoint: str) -> None:
        self.template = template
        self.endpoint = endpoint
        region = template.region
        self.dynamodb = client("dynamodb", endpoint, region)
        self.s3 = client("s3", endpoint, region)
        self.sqs = client("sqs", endpoint, region)
        self._creators: dict[str, Callable[[str, dict[str, Any]], None]] = {
            "AWS::DynamoDB::Table": self._table,
            "AWS::S3::Bucket": self._bucket,
            "AWS::SQS::Queue": self._queue,
        }

    def provision(self) -> list[str]:
        """Create every supported resource; returns the logical ids created or found."""
        wanted = [lid for lid in self.template.resources if self.template.resource_type(lid) in self._creators]
        done: list[str] = []
        for logical_id in self.template.creation_order(wanted):
            kind = self.template.resource_type(logical_id)
            self._creators[kind](logical_id, self.template.properties(logical_id))
            done.append(logical_id)
            log.debug("provisioned %s (%s)", logical_id, kind)
        self._email_sender()
        self._freeze_object_restores()
        return done

    # ------------------------------------------------------------------ moto itself

    def _freeze_object_restores(self) -> None:
        """Keep moto's objects out of its Glacier-restore state machine (FileGate never restores objects).

        Otherwise moto's ``/moto-api/data.json`` (its dashboard, and the mailbox's fallback) evaluates every
        object's restore status, and a multipart upload's parts, which name no bucket, make it answer 500
        from the first URL import of more than one part on.
        """
        body = json.dumps(
            {"model_name": "s3::keyrestore", "transition": {"progression": "manual", "times": 2**31 - 1}}
        ).encode()
        url = f"{self.endpoint}/moto-api/state-manager/set-transition"
        request = urllib.request.Request(url, data=body, method="POST")  # noqa: S310 - our own moto
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - our own moto
            response.read()

    # ------------------------------------------------------------------ SES

    def _email_sender(self) -> None:
        sender = self.template.parameters.get(EMAIL_SENDER_PARAMETER)
        if not sender:
            return
        sesv2 = client("sesv2", self.endpoint, self.template.region)
        try:
            sesv2.create_email_identity(EmailIdentity=str(sender))
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "AlreadyExistsException":
                raise

    # ------------------------------------------------------------------ DynamoDB

    def _table(self, logical_id: str, props: dict[str, Any]) -> None:
        name = str(self.template.physical(logical_id).name)
        request: dict[str, Any] = {
            "TableName": name,
            "AttributeDefinitions": props["AttributeDefinitions"],
            "KeySchema": props["KeySchema"],
            "BillingMode": "PAY_PER_REQUEST",
        }
        gsis = [
            {k: v for k, v in index.items() if k in ("IndexName", "KeySchema", "Projection")}
            for index in props.get("GlobalSecondaryIndexes") or []
        ]
        if gsis:
            request["GlobalSecondaryIndexes"] = gsis
        stream = props.get("StreamSpecification")
        if stream:
            request["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": stream["StreamViewType"]}
        try:
            table = self.dynamodb.create_table(**request)["TableDescription"]
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ResourceInUseException":
                raise
            log.info("table %s exists; kept", name)
            table = self.dynamodb.describe_table(TableName=name)["Table"]
            if stream and not table.get("LatestStreamArn"):
                update = {"TableName": name, "StreamSpecification": request["StreamSpecification"]}
                table = self.dynamodb.update_table(**update)["TableDescription"]
        if stream:
            self.template.record_attribute(logical_id, "StreamArn", table["LatestStreamArn"])
        ttl = props.get("TimeToLiveSpecification")
        if ttl and _bool(ttl.get("Enabled", False)):
            self.dynamodb.update_time_to_live(
                TableName=name,
                TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": True},
            )

    # ------------------------------------------------------------------ S3

    def _bucket(self, logical_id: str, props: dict[str, Any]) -> None:
        name = str(self.template.physical(logical_id).name)
        try:
            self.s3.create_bucket(Bucket=name)  # us-east-1: no LocationConstraint
        except ClientError as exc:
            if exc.response["Error"]["Code"] not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                raise
        lifecycle = props.get("LifecycleConfiguration")
        if lifecycle and lifecycle.get("Rules"):
            rules = [_lifecycle_rule(rule) for rule in lifecycle["Rules"]]
            self.s3.put_bucket_lifecycle_configuration(Bucket=name, LifecycleConfiguration={"Rules": rules})
        cors = props.get("CorsConfiguration")
        if cors and cors.get("CorsRules"):
            self.s3.put_bucket_cors(
                Bucket=name, CORSConfiguration={"CORSRules": [_cors_rule(r) for r in cors["CorsRules"]]}
            )

    # ------------------------------------------------------------------ SQS

    def _queue(self, logical_id: str, props: dict[str, Any]) -> None:
        physical = self.template.physical(logical_id)
        attributes: dict[str, str] = {}
        for key in ("VisibilityTimeout", "MessageRetentionPeriod"):
            if key in props:
                attributes[key] = _attribute(props[key])
        if "RedrivePolicy" in props:
            value = props["RedrivePolicy"]
            attributes["RedrivePolicy"] = value if isinstance(value, str) else json.dumps(value)
        try:
            url = self.sqs.create_queue(QueueName=physical.name, Attributes=attributes)["QueueUrl"]
        except ClientError as exc:
            if exc.response["Error"]["Code"] not in ("QueueAlreadyExists", "QueueNameExists"):
                raise
            url = self.sqs.get_queue_url(QueueName=physical.name)["QueueUrl"]
            if attributes:
                self.sqs.set_queue_attributes(QueueUrl=url, Attributes=attributes)
        if url != physical.url:
            log.warning("queue %s: moto answered %s, expected %s", logical_id, url, physical.url)


def _bool(value: Any) -> bool:
    return value if isinstance(value, bool) else str(value).lower() == "true"


def _attribute(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def _lifecycle_rule(rule: dict[str, Any]) -> dict[str, Any]:
    """A CloudFormation lifecycle rule (the parts FileGate uses) in the shape of PutBucketLifecycleConfiguration."""
    out: dict[str, Any] = {"Status": rule.get("Status", "Enabled"), "Filter": {"Prefix": rule.get("Prefix", "")}}
    if "Id" in rule:
        out["ID"] = rule["Id"]
    if "ExpirationInDays" in rule:
        out["Expiration"] = {"Days": int(rule["ExpirationInDays"])}
    abort = rule.get("AbortIncompleteMultipartUpload")
    if abort:
        out["AbortIncompleteMultipartUpload"] = {"DaysAfterInitiation": int(abort["DaysAfterInitiation"])}
    return out


def _cors_rule(rule: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "AllowedMethods": rule["AllowedMethods"],
        "AllowedOrigins": rule["AllowedOrigins"],
    }
    for key in ("AllowedHeaders", "ExposedHeaders"):
        if key in rule:
            out[key] = rule[key]
    if "Id" in rule:
        out["ID"] = rule["Id"]
    if "MaxAge" in rule:
        out["MaxAgeSeconds"] = int(rule["MaxAge"])
    return out
