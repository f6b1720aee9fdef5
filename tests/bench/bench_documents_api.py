"""What the API adds to a document conversion: a sync `/v1/convert` through the local gateway (the convert
function queues it to the document function and waits for it) against the document engine called alone on
the same file, warm, as a ratio of medians measured in the same run.

    .venv/bin/python tests/bench/bench_documents_api.py [--runs 5]

Prints figures; asserts nothing. The sync path adds: HTTP + multipart, the (cached) authorizer, the counters,
the input kept in S3, the conversion record, the SQS hop to the document function (its poller), the input
read back, the output stored, and the convert function's polling of the record (every 0.2 s). Fair by
construction: the document function's LibreOffice and this process's are warm (each case is run once on both
paths first), engine and gateway runs alternate so drift hits both alike, and bodies are built before the
clock starts.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import requests
from urllib3 import encode_multipart_formdata

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "infra"), str(ROOT / "layers" / "common")]

from filegate.engines import Source, Workspace, engine_for  # noqa: E402
from filegate.tiers import TIERS  # noqa: E402
from filegate_local.stack import LocalStack  # noqa: E402
from tests.helpers import api_documents as documents  # noqa: E402
from tests.helpers.local_stack import bench_stack_config  # noqa: E402

REPORT_DURATION = re.compile(rb"^REPORT RequestId: (\S+)\tDuration: ([0-9.]+) ms", re.MULTILINE)
CASES = (
    ("docx", "1 page", lambda: documents.docx()),
    ("docx", "10 pages", lambda: documents.docx(pages=10)),
    ("xlsx", "1 sheet", lambda: documents.xlsx()),
    ("pptx", "1 slide", lambda: documents.pptx()),
)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    print(f"documents through the API: sync /v1/convert to pdf vs the engine alone, median of {args.runs} runs")
    plan_tier = TIERS["pro"]
    with (
        tempfile.TemporaryDirectory() as state,
        tempfile.TemporaryDirectory() as scratch,
        LocalStack(bench_stack_config(Path(state))) as stack,
    ):
        from tests.helpers.local_api import keyed_session

        session = keyed_session(stack)

        def durations() -> dict[str, float]:
            """The document function's REPORT Duration (s) per invocation, from its log."""
            log = stack.log_file("DocumentsFunction").read_bytes()
            return {m[1].decode(): float(m[2]) / 1000 for m in REPORT_DURATION.finditer(log)}

        def warm_up(data: bytes, fmt: str) -> None:
            """One conversion on the API path, as a job: a cold start may outlast the sync budget."""
            created = session.post(stack.url + "/v1/files", json={"filename": f"warm.{fmt}", "size": len(data)})
            upload = created.json()["upload"]
            requests.post(upload["url"], data=upload["fields"], files={"file": ("f", data)}, timeout=60)
            file_id = created.json()["id"]
            session.post(f"{stack.url}/v1/files/{file_id}/complete", timeout=60)
            job = session.post(stack.url + "/v1/conversions", json={"file_id": file_id, "target": "pdf"}).json()
            while session.get(f"{stack.url}/v1/conversions/{job['id']}").json()["status"] not in (
                "succeeded",
                "failed",
            ):
                time.sleep(0.5)

        head = f"{'case':<20}{'engine s':>10}{'function s':>12}{'sync API s':>12}{'overhead ms':>13}{'ratio':>8}"
        print(head)
        for fmt, label, make in CASES:
            data = make()
            engine = engine_for(fmt, "pdf")
            options = engine.parse_options({}, source=fmt, target="pdf", form=True)
            plan = engine.plan(fmt, "pdf", options, plan_tier)

            def engine_once(fmt: str = fmt, data: bytes = data, engine=engine, options=options, plan=plan) -> float:
                start = time.perf_counter()
                engine.run(Source(fmt, data=data), plan, options, plan_tier, Workspace(Path(scratch)), seconds=None)
                return time.perf_counter() - start

            def api_once(fmt: str = fmt, data: bytes = data) -> float:
                body, content_type = encode_multipart_formdata(
                    {"file": (f"{uuid.uuid4().hex}.{fmt}", data), "target": "pdf"}
                )
                start = time.perf_counter()
                response = session.post(
                    stack.url + "/v1/convert", data=body, headers={"Content-Type": content_type}, timeout=300
                )
                elapsed = time.perf_counter() - start
                assert response.status_code == 200, response.text[:200]
                return elapsed

            engine_once()
            warm_up(data, fmt)  # the function's first conversion also starts its LibreOffice
            seen = set(durations())
            engine_times, api_times = [], []
            for _ in range(args.runs):
                engine_times.append(engine_once())
                api_times.append(api_once())
            function_times = [d for rid, d in durations().items() if rid not in seen]
            e, a = statistics.median(engine_times), statistics.median(api_times)
            f = statistics.median(function_times) if function_times else float("nan")
            name = f"{fmt} {label}"
            print(f"{name:<20}{e:>10.3f}{f:>12.3f}{a:>12.3f}{(a - e) * 1000:>13.0f}{a / e:>8.2f}")
        engine_for("docx", "pdf").office.stop()  # type: ignore[attr-defined]
    print("engine s: this process's warm LibreOffice; function s: the document function's own invocation (input")
    print("read from S3, engine, output stored, record); sync API s: HTTP to the answer, the document function warm")


if __name__ == "__main__":
    main()
