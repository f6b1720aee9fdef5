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


@dataclasses.dataclass(frozen=True, kw_only=True)
class TablesSettings(BaseSettings):
    accounts_table: str
    keys_table: str
    counters_table: str


@dataclasses.dataclass(frozen=True, kw_only=True)
class AuthorizerSettings(TablesSettings):
    pass


@dataclasses.dataclass(frozen=True, kw_only=True)
class KeysSettings(TablesSettings):
    emails_table: str
    # API Gateway's flush of the authorizer cache: retried with backoff when throttled.
    cache_flush_attempts: int = 6
    cache_flush_base_delay_seconds: float = 0.2


@dataclasses.dataclass(frozen=True, kw_only=True)
class ConversionSettings(TablesSettings):
    """What the convert, files and worker functions share: the files bucket, tables and queue."""

    files_table: str
    conversions_table: str
    bucket: str
    conversions_queue_url: str


@dataclasses.dataclass(frozen=True, kw_only=True)
class ConvertSettings(ConversionSettings):
    idempotency_table: str
    idempotency_seconds: int = 86_400
    # API.md's sync budget: /v1/convert and /v1/compress answer within it (202 + a job when the work won't).
    sync_budget_seconds: float = 25.0


@dataclasses.dataclass(frozen=True, kw_only=True)
class FilesSettings(ConversionSettings):
    pass


@dataclasses.dataclass(frozen=True, kw_only=True)
class WorkerSettings(ConversionSettings):
    pass


@dataclasses.dataclass(frozen=True, kw_only=True)
class WebhookStoreSettings(BaseSettings):
    """The webhooks product's tables and queue: for what manages endpoints, emits events or delivers them."""

    webhooks_table: str
    webhook_secrets_table: str
    webhook_deliveries_table: str
    webhooks_queue_url: str
