"""Import from a URL (docs/api.md "Files" → "Import from a URL"), the request side (API functions): checked at
once (the URL through the egress policy, on every address its name resolves to, 422 naming ``url``; the headers
against smuggling), the file created ``importing``, and its queue message. The worker's side is
filegate.files.import_worker.

Where the private headers live between the request and the worker: the URL and headers are sealed
(filegate.sealing) under a fresh key per import; the sealed text is on the file's record, the key only in the
queue message. Neither half alone opens it, and the write that ends the import removes the sealed text, so the
headers are gone when the job is (a dead-lettered message holds a key to nothing). Nothing here logs them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final
from urllib.parse import unquote, urlsplit

from filegate import errors, queues, sealing
from filegate.context import AuthContext
from filegate.db import files as files_table
from filegate.egress.fetch import IMPORT_FAILED, check_headers
from filegate.egress.policy import Resolver, resolver_for, vet_url
from filegate.files import service as files_service
from filegate.files.storage import object_key
from filegate.settings import EgressPolicy
from filegate.tiers import tier

DEFAULT_FILENAME: Final = "import"


@dataclass(frozen=True)
class ImportRequest:
    url: str
    filename: str
    headers: dict[str, str]


def check_request(
    url: object,
    filename: object,
    headers: object,
    *,
    allow_insecure_loopback: bool,
    resolver: Resolver | None = None,
    prefix: str = "",
) -> ImportRequest:
    """An import request whose URL passes the egress policy now (422 naming ``url``) and whose headers are
    safe to send; the file name defaults to the URL's last path segment."""
    if not isinstance(url, str):
        raise errors.InvalidRequest(f"{prefix}url: required, the https URL of the file.")
    vet_url(url, allow_insecure_loopback=allow_insecure_loopback, resolver=resolver, label=f"{prefix}url")
    checked = check_headers(headers, f"{prefix}headers")
    if filename is not None and not isinstance(filename, str):
        raise errors.InvalidRequest(f"{prefix}filename: must be a string.")
    name = filename or unquote(urlsplit(url).path.rsplit("/", 1)[-1])
    return ImportRequest(url, files_service.safe_filename(name, DEFAULT_FILENAME), checked)


# ------------------------------------------------------------------ the request, sealed for the worker


def sealed_request(file_id: str, request: ImportRequest) -> tuple[str, str]:
    """(sealed text for the record, key for the message)."""
    return sealing.seal({"url": request.url, "headers": request.headers}, file_id)


def opened_request(file_id: str, sealed: str, key: str) -> tuple[str, dict[str, str]]:
    plain = sealing.unseal(sealed, key, file_id)
    return str(plain["url"]), {str(k): str(v) for k, v in plain["headers"].items()}


# ------------------------------------------------------------------ starting the import


def start_import(
    caller: AuthContext,
    request: ImportRequest,
    *,
    queue_url: str,
    now: datetime,
    file_id: str | None = None,
    conversion_id: str | None = None,
    conversion_key: str | None = None,
) -> files_table.FileRecord:
    """The file, ``importing``, and its queue message. One that cannot be queued ends failed and raises.
    A conversion of a URL names its file id beforehand (its record is written first), and the key to its
    sealed options, if any, which the message hands on to the conversion's own (filegate.sealing)."""
    plan = tier(caller.tier)
    file_id = file_id or files_service.new_file_id()
    sealed, key = sealed_request(file_id, request)
    record = files_table.FileRecord(
        file_id,
        account_id=caller.account_id,
        filename=request.filename,
        object_key=object_key(plan, caller.account_id, file_id),
        status="importing",
        origin="import",
        import_sealed=sealed,
        created_at=now,
        expires_at=now + timedelta(seconds=plan.file_ttl_seconds),
    )
    files_table.create(record)
    message: dict[str, Any] = {
        "file_id": file_id,
        "key": key,
        "max_bytes": files_service.max_input_bytes(caller),
        "tier": caller.tier,
    }
    if conversion_id is not None:
        message["conversion_id"] = conversion_id
    if conversion_key is not None:
        message["conversion_key"] = conversion_key
    try:
        queues.send(queue_url, message)
    except BaseException:
        files_table.fail_import(record, IMPORT_FAILED, "The import could not be queued.", now)
        raise
    return record


def import_file(
    caller: AuthContext,
    *,
    url: object,
    filename: object,
    headers: object,
    egress: EgressPolicy,
    queue_url: str,
    now: datetime,
) -> dict[str, Any]:
    """POST /v1/files/import: the file's JSON (``importing``) for the 202."""
    request = check_request(
        url,
        filename,
        headers,
        allow_insecure_loopback=egress.egress_allow_insecure_loopback,
        resolver=resolver_for(egress),
    )
    record = start_import(caller, request, queue_url=queue_url, now=now)
    return files_service.file_json(record)
