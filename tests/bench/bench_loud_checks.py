"""What "mistakes are loud" costs a request: every route checks its query parameters against its own
declaration (filegate.web) and a sync conversion's form parts against the option table (filegate.suggest),
against the same app without those checks, as ratios of medians measured in the same run.

    .venv/bin/python tests/bench/bench_loud_checks.py [--requests 3000]

Prints figures; asserts nothing. In process (no gateway, no AWS): a route with two declared query
parameters, called through FastAPI's ASGI stack with and without the check (runs alternate, after a
warm-up, so drift hits both alike); and the form check alone against a plain dict lookup of the same parts.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Annotated

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "layers" / "common")]

from fastapi import FastAPI, Query  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402

from filegate.formats.options import OPTIONS  # noqa: E402
from filegate.suggest import check_names  # noqa: E402
from filegate.web import create_app  # noqa: E402

FORM = {"file": "", "target": "webp", "quality": "80", "width": "640", "fit": "cover", "strip_metadata": "true"}
PARTS = ("file", "target", *OPTIONS)


def _route(app: FastAPI) -> FastAPI:
    @app.get("/v1/things")
    def things(limit: Annotated[int, Query()] = 20, cursor: Annotated[str | None, Query()] = None) -> dict[str, int]:
        return {"limit": limit}

    return app


def _per_call_us(call: object, rounds: int) -> float:
    assert callable(call)
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=3000)
    runs = parser.parse_args().requests

    checked = TestClient(_route(create_app("bench")))
    plain = TestClient(_route(FastAPI(redirect_slashes=False)))
    for client in (checked, plain):  # warm-up
        for _ in range(100):
            assert client.get("/v1/things", params={"limit": "5", "cursor": "x"}).status_code == 200
    with_check: list[float] = []
    without: list[float] = []
    for _ in range(10):  # alternate blocks, so drift hits both alike
        with_check.append(_per_call_us(lambda: checked.get("/v1/things?limit=5&cursor=x"), runs // 10))
        without.append(_per_call_us(lambda: plain.get("/v1/things?limit=5&cursor=x"), runs // 10))
    request_checked, request_plain = statistics.median(with_check), statistics.median(without)

    form_checked = _per_call_us(lambda: check_names(FORM.keys(), PARTS, kind="form field"), runs)
    form_plain = _per_call_us(lambda: [k in PARTS for k in FORM], runs)

    print(f"mistakes are loud: the checks' cost per request ({runs} requests, medians)")
    print(f"{'case':<52}{'with (µs)':>12}{'baseline (µs)':>15}{'ratio':>8}")
    print(
        f"{'GET with 2 query params (ASGI app, in process)':<52}{request_checked:>12.1f}{request_plain:>15.1f}"
        f"{request_checked / request_plain:>8.2f}"
    )
    print(
        f"{'form of 6 parts vs the option table':<52}{form_checked:>12.2f}{form_plain:>15.2f}{form_checked / form_plain:>8.2f}"
    )
    print("baseline: the same route on a FastAPI app without the check; the form: a bare membership test")


if __name__ == "__main__":
    main()
