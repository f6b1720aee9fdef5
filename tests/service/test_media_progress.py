"""`progress` on conversions (docs/api.md §5): a media job's percent, read from FFmpeg's own progress report while
it runs, only grows and ends at 100; GET /v1/conversions/{id} shows it."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest

from filegate.conversions import worker
from filegate.db import conversions as conversions_table
from filegate.engines.av import ffmpeg
from tests.helpers import av_samples
from tests.service.harness import ServiceApi
from tests.service.helpers import Account


def test_a_media_jobs_progress_grows_while_it_runs_and_ends_at_100(
    api: ServiceApi, pro_account: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Read and written often enough to be seen on a clip of a few seconds' work.
    monkeypatch.setattr(ffmpeg, "PROGRESS_POLL_SECONDS", 0.05)
    monkeypatch.setattr(ffmpeg, "PROGRESS_PERIOD_SECONDS", 0.02)  # a fast machine converts the clip in 0.4 s
    monkeypatch.setattr(worker, "PROGRESS_WRITE_SECONDS", 0.05)
    clip = av_samples.sample("mp4", seconds=20.0, width=320, height=240, fps=25)
    file = pro_account.upload(clip, "talk.mp4")
    job = pro_account.call("POST", "/v1/conversions", json_body={"file_id": file["id"], "target": "webm"}).json()
    assert job["status"] == "queued" and job["progress"] == 0, job

    seen: list[int] = []
    done = threading.Event()

    def watch() -> None:  # what a client polling the record would see, in order
        while not done.is_set():
            record = conversions_table.get(job["id"])
            if record is not None and record.progress is not None:
                seen.append(int(record.progress))
            done.wait(0.02)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        api.run_queue("MediaWorkerFunction")
    finally:
        done.set()
        watcher.join()
    finished = pro_account.call("GET", f"/v1/conversions/{job['id']}").json()
    assert finished["status"] == "succeeded" and finished["progress"] == 100, finished
    assert seen == sorted(seen), seen  # never goes down
    assert any(0 < p < 100 for p in seen), seen  # it moved while the job ran, before the success's 100


def test_progress_is_never_lowered_nor_written_to_a_finished_job(api: ServiceApi, pro_account: Account) -> None:
    file = pro_account.upload(av_samples.sample("wav", seconds=1.0), "tone.wav")
    job = pro_account.call("POST", "/v1/conversions", json_body={"file_id": file["id"], "target": "mp3"}).json()
    assert not conversions_table.advance(job["id"], 10)  # queued: nothing runs yet
    record = conversions_table.get(job["id"])
    assert record is not None
    assert conversions_table.start(record, datetime.now(UTC))
    assert conversions_table.advance(job["id"], 40)
    assert not conversions_table.advance(job["id"], 30)  # a late or reordered write
    assert not conversions_table.advance(job["id"], 40)
    assert pro_account.call("GET", f"/v1/conversions/{job['id']}").json()["progress"] == 40
    api.run_queue("MediaWorkerFunction")  # the redelivered message finishes it
    assert pro_account.call("GET", f"/v1/conversions/{job['id']}").json()["progress"] == 100
    assert not conversions_table.advance(job["id"], 99)
