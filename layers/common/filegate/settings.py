"""Settings: one pydantic model per function, parsed from the environment once, at cold start.

This module is the only reader of ``os.environ``. It uses plain pydantic models rather than
pydantic-settings, which costs the authorizer's cold start another ~110 ms of imports for nothing.
"""

from __future__ import annotations

import os
from typing import TypeVar

from pydantic import BaseModel, ConfigDict

T = TypeVar("T", bound="BaseSettings")


class BaseSettings(BaseModel):
    """Field ``foo_bar`` is read from the environment variable ``FOO_BAR``."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    aws_region: str = "us-east-1"

    @classmethod
    def from_env(cls: type[T], environ: dict[str, str] | None = None) -> T:
        env = os.environ if environ is None else environ
        values = {name: env[name.upper()] for name in cls.model_fields if name.upper() in env}
        if "aws_region" not in values and "AWS_DEFAULT_REGION" in env:
            values["aws_region"] = env["AWS_DEFAULT_REGION"]
        return cls.model_validate(values)


class TablesSettings(BaseSettings):
    accounts_table: str
    keys_table: str
    counters_table: str


class AuthorizerSettings(TablesSettings):
    pass


class KeysSettings(TablesSettings):
    emails_table: str
    # API Gateway's flush of the authorizer cache: retried with backoff when throttled.
    cache_flush_attempts: int = 6
    cache_flush_base_delay_seconds: float = 0.2
