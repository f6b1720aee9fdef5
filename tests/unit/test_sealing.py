"""Secrets sealed for a worker (filegate.sealing): the record keeps only the sealed text, the queue message only
the key; a document's `input_password` is never in a record or an answer (docs/api.md "Documents")."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from cryptography.exceptions import InvalidTag

from filegate import errors, sealing
from filegate.conversions import records
from filegate.db.conversions import ConversionRecord


def test_what_is_sealed_opens_only_with_its_key_and_for_its_record() -> None:
    sealed, key = sealing.seal({"input_password": "hunter2"}, "conv_1")
    assert "hunter2" not in sealed and "hunter2" not in key
    assert sealing.unseal(sealed, key, "conv_1") == {"input_password": "hunter2"}
    with pytest.raises(InvalidTag):
        sealing.unseal(sealed, key, "conv_2")  # moved to another record
    _, other_key = sealing.seal({}, "conv_1")
    with pytest.raises(InvalidTag):
        sealing.unseal(sealed, other_key, "conv_1")


def _record(**fields: object) -> ConversionRecord:
    now = datetime.now(UTC)
    return ConversionRecord("conv_1", account_id="a", key_id="k", tier="pro", mode="async", status="queued",
                            target="pdf", created_at=now, expires_at=now, **fields)  # fmt: skip


def test_a_job_keeps_its_password_sealed_and_gets_it_back_with_its_key() -> None:
    options = {"pages": "1-2", "input_password": "hunter2"}
    assert records.public_options(options) == {"pages": "1-2"}
    sealed, key = records.seal_secret_options("conv_1", options)
    assert sealed is not None and key is not None
    assert records.job_message("conv_1", key) == {"conversion_id": "conv_1", "key": key}
    record = _record(options=records.public_options(options), options_sealed=sealed)
    assert records.requested_with_secrets(record, key) == ("pdf", options)
    with pytest.raises(errors.ConversionFailed, match="password is no longer available"):
        records.requested_with_secrets(record, None)  # a message without its key: failed, never retried
    assert records.seal_secret_options("conv_1", {"pages": "1"}) == (None, None)
    assert records.job_message("conv_1", None) == {"conversion_id": "conv_1"}
    assert records.requested_with_secrets(_record(options={"pages": "1"}), None) == ("pdf", {"pages": "1"})
