"""Media the plan does not take is refused at the request, from what `complete` probed (docs/api.md "Media")."""

from __future__ import annotations

from tests.helpers import av_samples
from tests.service.helpers import Account, assert_error


def test_media_over_the_tiers_duration_is_413_at_post_conversions(free_account: Account) -> None:
    # Before, the job was accepted (202) and failed later: the stored probe already said 180 s > 120 s.
    file = free_account.upload(av_samples.sample("opus", seconds=180.0, rate=8000), "long.opus")
    assert file["metadata"]["kind"] == "audio" and file["metadata"]["duration"] > 120
    job = free_account.call("POST", "/v1/conversions", json_body={"file_id": file["id"], "target": "mp3"})
    message = assert_error(job, 413, "file_too_large")["error"]["message"]
    assert "120 s" in message
    assert free_account.conversions_this_month() == 0  # refused before anything was reserved or queued
    short = free_account.upload(av_samples.sample("opus", seconds=2.0, rate=8000), "short.opus")
    accepted = free_account.call("POST", "/v1/conversions", json_body={"file_id": short["id"], "target": "mp3"})
    assert accepted.status == 202, accepted
