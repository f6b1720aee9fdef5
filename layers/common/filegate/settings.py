"""Settings: one typed model per function, parsed from the environment once, at cold start.

This module is the only reader of ``os.environ``. Models are frozen dataclasses validated here rather
than pydantic models: importing pydantic costs the authorizer's cold start ~60 ms (a third of
``import boto3``), and the authorizer runs on the request path of every cache miss.
"""

from __future__ import annotations

import dataclasses
import os
import typing
from collections.abc import Mapping
from typing import Any, ClassVar, TypeVar

from filegate.tiers import SYNC_BUDGET_SECONDS

T = TypeVar("T", bound="BaseSettings")


class SettingsError(ValueError):
    pass


def _convert(name: str, raw: str, kind: Any) -> Any:
    try:
        if kind is bool:
            lowered = raw.strip().lower()
            if lowered not in ("1", "0", "true", "false", "yes", "no"):
                raise ValueError(raw)
            return lowered in ("1", "true", "yes")
        if kind in (int, float, str):
            return kind(raw)
    except ValueError as exc:
        raise SettingsError(f"{name.upper()}: cannot read {raw!r} as {kind.__name__}") from exc
    raise SettingsError(f"{name}: unsupported setting type {kind!r}")


@dataclasses.dataclass(frozen=True)
class BaseSettings:
    """Field ``foo_bar`` is read from the environment variable ``FOO_BAR``; fields without a default are
    required, and a missing or unreadable one fails the cold start with a message that names it."""

    aws_region: str = "us-east-1"

    _aliases: ClassVar[dict[str, str]] = {"aws_region": "AWS_DEFAULT_REGION"}

    @classmethod
    def from_env(cls: type[T], environ: Mapping[str, str] | None = None) -> T:
        env = os.environ if environ is None else environ
        hints = typing.get_type_hints(cls)
        values: dict[str, Any] = {}
        for field in dataclasses.fields(cls):
            raw = env.get(field.name.upper(), env.get(cls._aliases.get(field.name, ""), None))
            if raw is not None:
                values[field.name] = _convert(field.name, raw, hints[field.name])
            elif field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
                raise SettingsError(f"{field.name.upper()} is not set")
        return cls(**values)


# ------------------------------------------------------------------ parts several functions share


@dataclasses.dataclass(frozen=True, kw_only=True)
class MeteringTables(BaseSettings):
    """What every function that takes a key reads and meters with: accounts, keys, counters."""

    accounts_table: str
    keys_table: str
    counters_table: str


@dataclasses.dataclass(frozen=True, kw_only=True)
class FileStore(BaseSettings):
    """Stored files: their records and the bucket holding their bytes."""

    files_table: str
    bucket: str


@dataclasses.dataclass(frozen=True, kw_only=True)
class WebhookStore(BaseSettings):
    """The webhooks product's tables and queue: for what manages endpoints, emits events or delivers them."""

    webhooks_table: str
    webhook_secrets_table: str
    webhook_deliveries_table: str
    webhooks_queue_url: str


@dataclasses.dataclass(frozen=True, kw_only=True)
class EgressPolicy(BaseSettings):
    """The egress guard's one switch (filegate.egress), for everything that calls out: webhooks, imports."""

    # The local stack only: allows http:// and loopback destinations, relaxes nothing else. Never set in AWS.
    egress_allow_insecure_loopback: bool = False
    # Tests only: no name but "localhost" resolves, so a fuzzer's made-up host names never reach real DNS.
    egress_resolve_loopback_only: bool = False


@dataclasses.dataclass(frozen=True, kw_only=True)
class WebhookPolicy(EgressPolicy):
    """Which receiver URLs are allowed and how deliveries are timed."""

    # < 1 compresses the retry schedule (tests, local stack); 0 retries at once.
    webhook_retry_scale: float = 1.0
    webhook_timeout_seconds: float = 10.0

    def __post_init__(self) -> None:
        if not self.webhook_retry_scale >= 0:  # also refuses NaN
            raise SettingsError("WEBHOOK_RETRY_SCALE must be 0 or more")
        if not 0 < self.webhook_timeout_seconds <= 30:
            raise SettingsError("WEBHOOK_TIMEOUT_SECONDS must be in (0, 30]")


@dataclasses.dataclass(frozen=True, kw_only=True)
class WebhookEmitter(WebhookStore, WebhookPolicy):
    """What emits webhook events (conversion.succeeded / failed, webhook.test): the store and the URL policy."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class EngineQueues(BaseSettings):
    """The queue of each engine's worker (filegate.conversions.routing.engine_queues): images and PDFs, audio
    and video, documents. For what hands conversions to workers: the convert function, the import worker."""

    conversions_queue_url: str
    media_queue_url: str
    documents_queue_url: str


@dataclasses.dataclass(frozen=True, kw_only=True)
class Mailer(BaseSettings):
    """What sends mail to people (filegate.mail): the SES identity it sends as (the EmailSender parameter)."""

    email_sender: str


@dataclasses.dataclass(frozen=True, kw_only=True)
class PublicAddress(BaseSettings):
    """Where people reach this API: the template's PublicBaseUrl, else its custom domain
    (``https://api.example.com``), else empty, and API Gateway's own domain and stage are used (docs/deploy.md
    "A custom domain"). Never a request's Host header."""

    public_base_url: str = ""


# ------------------------------------------------------------------ one class per function (template.yaml)


@dataclasses.dataclass(frozen=True, kw_only=True)
class AuthorizerSettings(BaseSettings):
    accounts_table: str
    keys_table: str


@dataclasses.dataclass(frozen=True, kw_only=True)
class KeysSettings(MeteringTables, PublicAddress):
    emails_table: str
    audit_table: str  # changes to keys are recorded; GET /v1/audit reads it
    # How long API Gateway may cache an authorizer answer (the template's AuthorizerCacheTtl): a change is
    # stamped on every counter item a request may write for that long (filegate.keys.stamps).
    authorizer_cache_ttl_seconds: int = 3600


@dataclasses.dataclass(frozen=True, kw_only=True)
class StamperSettings(MeteringTables):
    """The stamper: finishes publishing key and account changes from the tables' streams."""

    authorizer_cache_ttl_seconds: int = 3600


@dataclasses.dataclass(frozen=True, kw_only=True)
class ActivitySettings(BaseSettings):
    """The activity rollup: the request functions' activity log lines, added up per key in the counters table."""

    counters_table: str


@dataclasses.dataclass(frozen=True, kw_only=True)
class ConvertSettings(MeteringTables, FileStore, WebhookEmitter, EngineQueues):
    conversions_table: str
    # A conversion of a URL imports it first, through the import worker's queue.
    imports_queue_url: str
    idempotency_table: str
    idempotency_seconds: int = 86_400
    # docs/api.md's sync budget (a test shrinks it): /v1/convert and /v1/compress answer within it.
    sync_budget_seconds: float = SYNC_BUDGET_SECONDS


@dataclasses.dataclass(frozen=True, kw_only=True)
class FilesSettings(MeteringTables, FileStore, EgressPolicy):
    # POST /v1/files/import: the URL is checked here, fetched by the import worker off this queue.
    imports_queue_url: str


@dataclasses.dataclass(frozen=True, kw_only=True)
class ImportSettings(FileStore, WebhookEmitter, EngineQueues):
    """The import worker and its dead-letter handler: URL imports through the egress guard (docs/api.md "Import
    from a URL"), then, for a conversion of a URL, its hand-over to the conversion queues."""

    conversions_table: str
    counters_table: str  # a failed import gives its conversion's quota back
    import_connect_timeout_seconds: float = 5.0
    import_wall_seconds: float = 600.0  # under the function's 900 s timeout, leaving time to sniff and store
    import_part_mb: int = 8  # multipart part size: the most of a download held in memory at once

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0 < self.import_connect_timeout_seconds <= 30:
            raise SettingsError("IMPORT_CONNECT_TIMEOUT_SECONDS must be in (0, 30]")
        if not 0 < self.import_wall_seconds <= 840:
            raise SettingsError("IMPORT_WALL_SECONDS must be in (0, 840]")
        if not 5 <= self.import_part_mb <= 512:
            raise SettingsError("IMPORT_PART_MB must be 5 to 512 (S3's smallest part is 5 MB)")


@dataclasses.dataclass(frozen=True, kw_only=True)
class WorkerSettings(FileStore, WebhookEmitter):
    """The worker and its dead-letter handler (one module, two handlers)."""

    conversions_table: str
    counters_table: str  # a failed conversion gives its quota back


@dataclasses.dataclass(frozen=True, kw_only=True)
class WebhooksSettings(MeteringTables, WebhookEmitter):
    audit_table: str  # changes to endpoints and the signing secret are recorded


@dataclasses.dataclass(frozen=True, kw_only=True)
class DashboardSettings(MeteringTables, FileStore, WebhookEmitter, Mailer, PublicAddress):
    """The dashboard: its own sessions and sign-ins, and what the services it calls read and write."""

    emails_table: str
    audit_table: str
    conversions_table: str
    dashboard_sessions_table: str
    dashboard_logins_table: str
    # As for the keys function: how long a change made here is stamped for (the template's AuthorizerCacheTtl).
    authorizer_cache_ttl_seconds: int = 3600
    # Every sign-in answer leaves this long after its request, whatever happened (docs/api.md §7).
    sign_in_answer_seconds: float = 1.0


@dataclasses.dataclass(frozen=True, kw_only=True)
class DispatcherSettings(WebhookEmitter):
    webhook_dead_letter_queue_url: str
    # The webhooks queue's maxReceiveCount (one template parameter sets both): a message that crashed this
    # often is given up before SQS moves it to the dead-letter queue.
    webhook_max_receives: int


@dataclasses.dataclass(frozen=True, kw_only=True)
class MediaWorkerSettings(WorkerSettings):
    """The media worker (and its dead-letter handler): FFmpeg's sandbox limits and where it works."""

    ffmpeg_path: str = ""  # empty: the FFmpeg layer's binary (imageio-ffmpeg)
    media_workdir: str = ""  # empty: the system's temporary directory (Lambda's ephemeral storage)
    media_wall_seconds: float = 840.0  # under the function's 900 s timeout, leaving time to store the output
    media_cpu_seconds: int = 1680  # wall-clock limit x the vCPUs at the function's memory size
    media_memory_mb: int = 2560  # address space of one FFmpeg child, under the function's memory
    media_max_output_mb: int = 5120  # largest output file, under the ephemeral storage
    # Long media (docs/api.md "Media" → "Long media"): video outputs longer than this are cut into segments of
    # about media_segment_seconds (half that above 1080p), each converted by its own invocation; the
    # pieces' messages go to the media queue, the worker's own. Template parameters (tests shorten them).
    media_queue_url: str
    long_media_seconds: float = 240.0
    media_segment_seconds: float = 45.0
    # The join sends its output to S3 in parts of this size as it grows (at least S3's 5 MiB), so a joined
    # output may be larger than the ephemeral storage, up to media_max_joined_output_mb.
    media_join_part_mb: int = 64
    media_max_joined_output_mb: int = 20480

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0 < self.media_segment_seconds <= self.long_media_seconds:
            raise SettingsError("MEDIA_SEGMENT_SECONDS must be more than 0 and at most LONG_MEDIA_SECONDS")
        if self.media_join_part_mb < 5:
            raise SettingsError("MEDIA_JOIN_PART_MB must be at least 5 (S3's smallest part)")


@dataclasses.dataclass(frozen=True, kw_only=True)
class DocumentsSettings(WorkerSettings):
    """The document worker (and its dead-letter handler), a container image (functions/documents): the
    limits of one LibreOffice conversion and where it works."""

    document_workdir: str = ""  # empty: the system's temporary directory (Lambda's ephemeral storage)
    # LibreOffice's locked-down profile, baked when the image was built (its Dockerfile sets this); empty:
    # baked on the first conversion of each instance, in the temporary directory.
    document_profile_dir: str = ""
    # One conversion's wall clock: a document that hangs LibreOffice is cut off here (conversion_failed),
    # well under the function's 300 s timeout so the failure is recorded and the next message is served.
    document_wall_seconds: float = 240.0
    document_cpu_seconds: int = 480  # the wall clock x the 2 vCPUs at the function's memory size
    document_memory_mb: int = 2560  # address space of the converter, under the function's memory
    document_max_output_mb: int = 2048  # largest output file, under the ephemeral storage

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0 < self.document_wall_seconds <= 280:
            raise SettingsError("DOCUMENT_WALL_SECONDS must be in (0, 280] (the function's timeout is 300 s)")


@dataclasses.dataclass(frozen=True, kw_only=True)
class SecretScanningSettings(MeteringTables, WebhookStore, EgressPolicy, Mailer):
    """GitHub secret scanning (docs/api.md §9): revokes through the keys service, tells owners, records, emits."""

    audit_table: str
    secret_scanning_table: str
    # GitHub's meta document of signing keys (the GitHubKeysUrl template parameter), fetched through the
    # egress guard when an unknown key identifier arrives.
    github_keys_url: str
    # As for the keys function: how long a revocation is stamped for (the template's AuthorizerCacheTtl).
    authorizer_cache_ttl_seconds: int = 3600
