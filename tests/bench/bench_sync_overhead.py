"""End-to-end overhead of a sync conversion: through the local gateway (authorizer cached) vs the
engine call alone on the same file, as a ratio of medians measured in the same run.

    .venv/bin/python tests/bench/bench_sync_overhead.py [--runs 5] [--megapixels 12]

Prints figures; asserts nothing. The gateway path adds: HTTP + multipart, API Gateway event building,
the (cached) authorizer, the rate-limit and quota counters, base64 both ways, and the conversion record.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import requests
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "infra"), str(ROOT / "layers" / "common")]

from filegate.conversion import ConversionOptions, EngineLimits  # noqa: E402
from filegate.conversion import engine as conversion_engine  # noqa: E402
from filegate.tiers import SYNC_MAX_BYTES, TIERS  # noqa: E402
from filegate_local.stack import LocalStack, StackConfig  # noqa: E402
from tests import fixtures_media as media  # noqa: E402

CASES = (("webp", {"quality": "80"}), ("jpg", {"quality": "80"}), ("jpg", {"width": "1600"}))


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
        LocalStack(
            StackConfig(template=ROOT / "template.yaml", port=0, moto_port=0, state_dir=Path(state), warm=True)
        ) as stack,
    ):
        from tests.integration.helpers import new_account

        key = new_account(stack, "pro")["api_key"]
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {key}"
        session.get(stack.url + "/v1/entitlements/me", timeout=60)  # caches the authorizer's policy
        print(f"{'case':<24}{'engine s':>10}{'gateway s':>11}{'ratio':>8}")
        for target, fields in CASES:
            options = ConversionOptions.from_form(fields)

            def engine_once(target: str = target, options: ConversionOptions = options) -> None:
                conversion_engine.convert(data, target, options, limits)

            def gateway_once(target: str = target, fields: dict[str, str] = fields) -> None:
                response = session.post(
                    stack.url + "/v1/convert",
                    files={"file": (f"{uuid.uuid4().hex}.jpg", data)},
                    data={"target": target, **fields},
                    timeout=300,
                )
                assert response.status_code in (200, 303), response.text[:200]

            engine_once()
            gateway_once()  # warm both paths
            engine_times, gateway_times = [], []
            for _ in range(args.runs):  # interleaved, so drift hits both alike
                start = time.perf_counter()
                engine_once()
                engine_times.append(time.perf_counter() - start)
                start = time.perf_counter()
                gateway_once()
                gateway_times.append(time.perf_counter() - start)
            e, g = statistics.median(engine_times), statistics.median(gateway_times)
            label = f"jpg -> {target} " + " ".join(f"{k}={v}" for k, v in fields.items())
            print(f"{label:<24}{e:>10.3f}{g:>11.3f}{g / e:>8.2f}")
    print("target: <= 1.15 for the 12 MP case")


if __name__ == "__main__":
    main()
