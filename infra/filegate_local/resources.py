"""The template's tables, bucket and queues in moto, idempotently (a second `make dev` keeps their data).

CloudFormation's properties become the API calls CloudFormation makes, for what behaves differently without
them (keys, indexes, streams, item TTLs, the bucket's lifecycle and CORS, queue timeouts and redrive);
encryption and backups change nothing locally. The ``EmailSender`` parameter's address is verified in moto's
SES, as an operator verifies it in AWS once, so the functions can send as it.
"""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from filegate_local.template import Template


def client(service: str, endpoint: str, region: str) -> Any:
    config = Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=5, read_timeout=30)
    credentials = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}  # moto takes any
    return boto3.Session().client(service, endpoint_url=endpoint, region_name=region, config=config, **credentials)


def creation_order(template: Template) -> list[str]:
    """Tables, buckets, then queues, each dead-letter queue (no RedrivePolicy of its own) before its queue."""
    queues = sorted(template.of_type("AWS::SQS::Queue"), key=lambda q: "RedrivePolicy" in template.raw_properties(q))
    return [*template.of_type("AWS::DynamoDB::Table", "AWS::S3::Bucket"), *queues]


def _exists(exc: ClientError, *codes: str) -> None:
    if exc.response["Error"]["Code"] not in codes:
        raise exc


class Provisioner:
    def __init__(self, template: Template, endpoint: str) -> None:
        self.template, self.endpoint = template, endpoint
        self.dynamodb, self.s3, self.sqs = (client(s, endpoint, template.region) for s in ("dynamodb", "s3", "sqs"))

    def provision(self) -> list[str]:
        create = {"AWS::DynamoDB::Table": self._table, "AWS::S3::Bucket": self._bucket, "AWS::SQS::Queue": self._queue}
        created = creation_order(self.template)
        for logical_id in created:
            name, props = self.template.physical(logical_id).name, self.template.properties(logical_id)
            create[self.template.resources[logical_id]["Type"]](logical_id, name, props)
        sender = self.template.parameters.get("EmailSender")
        if sender:
            try:
                client("sesv2", self.endpoint, self.template.region).create_email_identity(EmailIdentity=sender)
            except ClientError as exc:
                _exists(exc, "AlreadyExistsException")
        # Keep moto's objects out of its Glacier-restore state machine (FileGate never restores any): else its
        # /moto-api/data.json (tests/service/test_mail.py) evaluates each object's restore status, and answers 500
        # from the first multipart upload on (its parts name no bucket).
        body = {"model_name": "s3::keyrestore", "transition": {"progression": "manual", "times": 2**31 - 1}}
        url = f"{self.endpoint}/moto-api/state-manager/set-transition"
        request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST")  # noqa: S310 - our moto
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - our own moto
            response.read()
        return created

    def _table(self, logical_id: str, name: str, props: dict[str, Any]) -> None:
        request = {k: props[k] for k in ("AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes") if k in props}
        if "StreamSpecification" in props:
            request["StreamSpecification"] = {"StreamEnabled": True, **props["StreamSpecification"]}
        try:
            table = self.dynamodb.create_table(TableName=name, BillingMode="PAY_PER_REQUEST", **request)
            table = table["TableDescription"]
        except ClientError as exc:
            _exists(exc, "ResourceInUseException")
            table = self.dynamodb.describe_table(TableName=name)["Table"]
        if "StreamSpecification" in props:  # known once the table exists: !GetAtt Table.StreamArn gives it from now on
            self.template.physical(logical_id).attributes["StreamArn"] = table["LatestStreamArn"]
        if "TimeToLiveSpecification" in props:  # the same shape in both
            self.dynamodb.update_time_to_live(TableName=name, TimeToLiveSpecification=props["TimeToLiveSpecification"])

    def _bucket(self, logical_id: str, name: str, props: dict[str, Any]) -> None:
        try:
            self.s3.create_bucket(Bucket=name)  # us-east-1: no LocationConstraint
        except ClientError as exc:
            _exists(exc, "BucketAlreadyOwnedByYou", "BucketAlreadyExists")
        rules = [
            {"ID": rule["Id"], "Status": rule["Status"], "Filter": {"Prefix": rule.get("Prefix", "")}}
            | ({"Expiration": {"Days": rule["ExpirationInDays"]}} if "ExpirationInDays" in rule else {})
            | {k: v for k, v in rule.items() if k == "AbortIncompleteMultipartUpload"}  # the same shape in both
            for rule in props.get("LifecycleConfiguration", {}).get("Rules", [])
        ]
        if rules:
            self.s3.put_bucket_lifecycle_configuration(Bucket=name, LifecycleConfiguration={"Rules": rules})
        renamed = {"Id": "ID", "MaxAge": "MaxAgeSeconds"}
        cors = [
            {renamed.get(k, k): v for k, v in r.items()}
            for r in props.get("CorsConfiguration", {}).get("CorsRules", [])
        ]
        if cors:
            self.s3.put_bucket_cors(Bucket=name, CORSConfiguration={"CORSRules": cors})

    def _queue(self, logical_id: str, name: str, props: dict[str, Any]) -> None:
        attributes = {k: str(props[k]) for k in ("VisibilityTimeout", "MessageRetentionPeriod") if k in props}
        if "RedrivePolicy" in props:
            attributes["RedrivePolicy"] = json.dumps(props["RedrivePolicy"])
        url = self.sqs.create_queue(QueueName=name)["QueueUrl"]  # an existing queue too: only Attributes could differ
        self.sqs.set_queue_attributes(QueueUrl=url, Attributes=attributes)
