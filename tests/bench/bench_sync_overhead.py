"""End-to-end overhead of a sync conversion: through the local gateway (authorizer cached) vs the
engine call alone on the same file, as a ratio of medians measured in the same run.

    .venv/bin/python tests/bench/bench_sync_overhead.py [--runs 5] [--megapixels 12]

Prints figures; asserts nothing. The gateway path adds: HTTP + multipart, API Gateway event building,
the (cached) authorizer, the rate-limit and quota counters, base64 both ways, and the conversion record.

Fair by construction: the function's worker is warm and every case is warmed up on both paths first, the
authorizer's policy is cached (with a TTL longer than the run; the bench says so if it was invoked while
measuring), the multipart body is built before the clock starts, and engine and gateway runs alternate,
so drift hits both alike. The convert function's own time (its REPORT Duration) is shown too, which
splits the overhead into the function's part and the local gateway <-> worker path's.
"""

from __future__ import annotations

import argparse
import io
import re
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

from PIL import Image
from urllib3 import encode_multipart_formdata

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "infra"), str(ROOT / "layers" / "common")]

from filegate.engines.image import engine as conversion_engine  # noqa: E402
from filegate.engines.image.limits import EngineLimits  # noqa: E402
from filegate.formats.options import ImageOptions  # noqa: E402
from filegate.tiers import SYNC_MAX_BYTES, TIERS  # noqa: E402
from filegate_local.stack import LocalStack  # noqa: E402
from tests.helpers import media_samples as media  # noqa: E402
from tests.helpers.local_stack import bench_stack_config  # noqa: E402

CASES = (("webp", {"quality": "80"}), ("jpg", {"quality": "80"}), ("jpg", {"width": "1600"}))
REPORT_DURATION = re.compile(rb"^REPORT RequestId: (\S+)\tDuration: ([0-9.]+) ms", re.MULTILINE)


def _source(megapixels: float) -> bytes:
    """A photographic JPEG of that size that still fits the sync limit."""
    width = int((megapixels * 1e6 * 4 / 3) ** 0.5)
    height = int(width * 3 / 4)
    image = media.photo(width, height)
    for quality in (85, 75, 65, 55, 45):
        buf = io.BytesIO()
        image.save(buf, "JPEG", quality=quality)
        if buf.tell() <= SYNC_MAX_BYTES - 64 * 1024:
            return buf.getvalue()
    raise SystemExit("could not fit the sample under the sync limit")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--megapixels", type=float, default=12.0)
    args = parser.parse_args()
    data = _source(args.megapixels)
    with Image.open(io.BytesIO(data)) as probe:
        size = probe.size
    print(f"sync overhead: {size[0]}x{size[1]} JPEG ({len(data) / 1e6:.2f} MB), median of {args.runs} runs")
    limits = EngineLimits.for_tier(TIERS["pro"])
    with (
        tempfile.TemporaryDirectory() as state,
        LocalStack(bench_stack_config(Path(state))) as stack,
    ):
        from tests.helpers.local_api import keyed_session

        session = keyed_session(stack)
        authorizer_calls = stack.invocations("AuthorizerFunction")

        def durations() -> dict[str, float]:
            """The convert function's REPORT Duration (s) per request id, from its log."""
            log = stack.log_file("ConvertFunction").read_bytes()
            return {m[1].decode(): float(m[2]) / 1000 for m in REPORT_DURATION.finditer(log)}

        print(f"{'case':<24}{'engine s':>10}{'function s':>12}{'gateway s':>11}{'overhead ms':>13}{'ratio':>8}")
        for target, fields in CASES:
            options = ImageOptions.from_form(fields)

            def engine_once(target: str = target, options: ImageOptions = options) -> float:
                start = time.perf_counter()
                conversion_engine.convert(data, target, options, limits)
                return time.perf_counter() - start

            def gateway_once(target: str = target, fields: dict[str, str] = fields) -> float:
                # Built before the clock starts: the client's multipart encoding is not the gateway's cost.
                body, content_type = encode_multipart_formdata(
                    {"file": (f"{uuid.uuid4().hex}.jpg", data), "target": target, **fields}
                )
                start = time.perf_counter()
                response = session.post(
                    stack.url + "/v1/convert", data=body, headers={"Content-Type": content_type}, timeout=300
                )
                elapsed = time.perf_counter() - start
                assert response.status_code in (200, 303), response.text[:200]
                return elapsed

            engine_once()
            gateway_once()  # warm both paths
            seen = set(durations())
            engine_times, gateway_times = [], []
            for _ in range(args.runs):  # interleaved, so drift hits both alike
                engine_times.append(engine_once())
                gateway_times.append(gateway_once())
            function_times = [d for rid, d in durations().items() if rid not in seen]
            e, g = statistics.median(engine_times), statistics.median(gateway_times)
            f = statistics.median(function_times) if function_times else float("nan")
            label = f"jpg -> {target} " + " ".join(f"{k}={v}" for k, v in fields.items())
            print(f"{label:<24}{e:>10.3f}{f:>12.3f}{g:>11.3f}{(g - e) * 1000:>13.0f}{g / e:>8.2f}")
        if stack.invocations("AuthorizerFunction") != authorizer_calls:
            print("note: the authorizer ran while measuring (its cache missed); the gateway figures include it")
    print("function s: the convert function's own duration in its worker (Mangum, counters, engine, record)")
    print("target: <= 1.15 for the 12 MP case")


if __name__ == "__main__":
    main()
