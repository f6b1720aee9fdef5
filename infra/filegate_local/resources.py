"""Creating the template's tables, buckets and queues in moto, idempotently.

CloudFormation property names are mapped onto the API calls CloudFormation itself would make. Resource
types the local stack does not need (alarms, roles, layers, ...) are skipped quietly.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from filegate_local.template import Template

log = logging.getLogger("filegate_local")

DUMMY_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


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
        return done

    # ------------------------------------------------------------------ DynamoDB

    def _table(self, logical_id: str, props: dict[str, Any]) -> None:
        name = str(self.template.physical(logical_id).name)
        billing = str(props.get("BillingMode", "PROVISIONED"))
        request: dict[str, Any] = {
            "TableName": name,
            "AttributeDefinitions": props["AttributeDefinitions"],
            "KeySchema": props["KeySchema"],
            "BillingMode": billing,
        }
        throughput = props.get("ProvisionedThroughput") or {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5}
        if billing == "PROVISIONED":
            request["ProvisionedThroughput"] = _ints(throughput)
        gsis = []
        for index in props.get("GlobalSecondaryIndexes") or []:
            gsi = {k: v for k, v in index.items() if k in ("IndexName", "KeySchema", "Projection")}
            if billing == "PROVISIONED":
                gsi["ProvisionedThroughput"] = _ints(index.get("ProvisionedThroughput") or throughput)
            gsis.append(gsi)
        if gsis:
            request["GlobalSecondaryIndexes"] = gsis
        lsis = [
            {k: v for k, v in index.items() if k in ("IndexName", "KeySchema", "Projection")}
            for index in props.get("LocalSecondaryIndexes") or []
        ]
        if lsis:
            request["LocalSecondaryIndexes"] = lsis
        stream = props.get("StreamSpecification")
        if stream:
            request["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": stream["StreamViewType"]}
        sse = props.get("SSESpecification")
        if sse:
            request["SSESpecification"] = {
                "Enabled": _bool(sse.get("SSEEnabled", sse.get("Enabled", False))),
                **({"SSEType": sse["SSEType"]} if "SSEType" in sse else {}),
                **({"KMSMasterKeyId": sse["KMSMasterKeyId"]} if "KMSMasterKeyId" in sse else {}),
            }
        if props.get("TableClass"):
            request["TableClass"] = props["TableClass"]
        if "DeletionProtectionEnabled" in props:
            request["DeletionProtectionEnabled"] = _bool(props["DeletionProtectionEnabled"])
        if props.get("Tags"):
            request["Tags"] = props["Tags"]
        try:
            self.dynamodb.create_table(**request)
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ResourceInUseException":
                raise
            log.info("table %s exists; kept", name)
        ttl = props.get("TimeToLiveSpecification")
        if ttl and _bool(ttl.get("Enabled", False)):
            self.dynamodb.update_time_to_live(
                TableName=name,
                TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": True},
            )
        pitr = props.get("PointInTimeRecoverySpecification")
        if pitr and _bool(pitr.get("PointInTimeRecoveryEnabled", False)):
            self.dynamodb.update_continuous_backups(
                TableName=name,
                PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True},
            )

    # ------------------------------------------------------------------ S3

    def _bucket(self, logical_id: str, props: dict[str, Any]) -> None:
        name = str(self.template.physical(logical_id).name)
        try:
            if self.template.region == "us-east-1":
                self.s3.create_bucket(Bucket=name)
            else:
                self.s3.create_bucket(
                    Bucket=name, CreateBucketConfiguration={"LocationConstraint": self.template.region}
                )
        except ClientError as exc:
            if exc.response["Error"]["Code"] not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                raise
        versioning = props.get("VersioningConfiguration")
        if versioning:
            self.s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": versioning["Status"]})
        lifecycle = props.get("LifecycleConfiguration")
        if lifecycle and lifecycle.get("Rules"):
            rules = [_lifecycle_rule(rule) for rule in lifecycle["Rules"]]
            self.s3.put_bucket_lifecycle_configuration(Bucket=name, LifecycleConfiguration={"Rules": rules})
        encryption = props.get("BucketEncryption")
        if encryption:
            rules = encryption.get("ServerSideEncryptionConfiguration") or []
            self.s3.put_bucket_encryption(
                Bucket=name,
                ServerSideEncryptionConfiguration={"Rules": [_encryption_rule(r) for r in rules]},
            )
        public = props.get("PublicAccessBlockConfiguration")
        if public:
            self.s3.put_public_access_block(
                Bucket=name, PublicAccessBlockConfiguration={k: _bool(v) for k, v in public.items()}
            )
        cors = props.get("CorsConfiguration")
        if cors and cors.get("CorsRules"):
            self.s3.put_bucket_cors(
                Bucket=name, CORSConfiguration={"CORSRules": [_cors_rule(r) for r in cors["CorsRules"]]}
            )
        if props.get("Tags"):
            self.s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": props["Tags"]})

    # ------------------------------------------------------------------ SQS

    def _queue(self, logical_id: str, props: dict[str, Any]) -> None:
        physical = self.template.physical(logical_id)
        attributes: dict[str, str] = {}
        for key in (
            "VisibilityTimeout",
            "MessageRetentionPeriod",
            "DelaySeconds",
            "MaximumMessageSize",
            "ReceiveMessageWaitTimeSeconds",
            "KmsMasterKeyId",
            "KmsDataKeyReusePeriodSeconds",
            "SqsManagedSseEnabled",
        ):
            if key in props:
                attributes[key] = _attribute(props[key])
        for key in ("RedrivePolicy", "RedriveAllowPolicy"):
            if key in props:
                value = props[key]
                attributes[key] = value if isinstance(value, str) else json.dumps(value)
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
        if props.get("Tags"):
            self.sqs.tag_queue(QueueUrl=url, Tags={t["Key"]: str(t["Value"]) for t in props["Tags"]})


def _bool(value: Any) -> bool:
    return value if isinstance(value, bool) else str(value).lower() == "true"


def _ints(throughput: dict[str, Any]) -> dict[str, int]:
    return {k: int(v) for k, v in throughput.items() if k in ("ReadCapacityUnits", "WriteCapacityUnits")}


def _attribute(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def _lifecycle_rule(rule: dict[str, Any]) -> dict[str, Any]:
    """A CloudFormation lifecycle rule in the shape of PutBucketLifecycleConfiguration."""
    out: dict[str, Any] = {"Status": rule.get("Status", "Enabled")}
    if "Id" in rule:
        out["ID"] = rule["Id"]
    conditions: list[dict[str, Any]] = []
    if "Prefix" in rule:
        conditions.append({"Prefix": rule["Prefix"]})
    for tag in rule.get("TagFilters") or []:
        conditions.append({"Tag": {"Key": tag["Key"], "Value": tag["Value"]}})
    for key in ("ObjectSizeGreaterThan", "ObjectSizeLessThan"):
        if key in rule:
            conditions.append({key: int(rule[key])})
    if len(conditions) > 1:
        merged: dict[str, Any] = {"Tags": []}
        for condition in conditions:
            if "Tag" in condition:
                merged["Tags"].append(condition["Tag"])
            else:
                merged.update(condition)
        out["Filter"] = {"And": merged}
    else:
        out["Filter"] = conditions[0] if conditions else {"Prefix": ""}
    expiration: dict[str, Any] = {}
    if "ExpirationInDays" in rule:
        expiration["Days"] = int(rule["ExpirationInDays"])
    if "ExpirationDate" in rule:
        expiration["Date"] = rule["ExpirationDate"]
    if "ExpiredObjectDeleteMarker" in rule:
        expiration["ExpiredObjectDeleteMarker"] = _bool(rule["ExpiredObjectDeleteMarker"])
    if expiration:
        out["Expiration"] = expiration
    abort = rule.get("AbortIncompleteMultipartUpload")
    if abort:
        out["AbortIncompleteMultipartUpload"] = {"DaysAfterInitiation": int(abort["DaysAfterInitiation"])}
    noncurrent = rule.get("NoncurrentVersionExpiration") or (
        {"NoncurrentDays": rule["NoncurrentVersionExpirationInDays"]}
        if "NoncurrentVersionExpirationInDays" in rule
        else None
    )
    if noncurrent:
        out["NoncurrentVersionExpiration"] = {"NoncurrentDays": int(noncurrent["NoncurrentDays"])}
    transitions = [
        {
            "StorageClass": t["StorageClass"],
            **({"Days": int(t["TransitionInDays"])} if "TransitionInDays" in t else {}),
            **({"Date": t["TransitionDate"]} if "TransitionDate" in t else {}),
        }
        for t in rule.get("Transitions") or []
    ]
    if transitions:
        out["Transitions"] = transitions
    return out


def _encryption_rule(rule: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    default = rule.get("ServerSideEncryptionByDefault")
    if default:
        out["ApplyServerSideEncryptionByDefault"] = {
            "SSEAlgorithm": default["SSEAlgorithm"],
            **({"KMSMasterKeyID": default["KMSMasterKeyID"]} if "KMSMasterKeyID" in default else {}),
        }
    if "BucketKeyEnabled" in rule:
        out["BucketKeyEnabled"] = _bool(rule["BucketKeyEnabled"])
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
