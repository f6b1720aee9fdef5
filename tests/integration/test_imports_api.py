"""Import from a URL through the local stack, over real HTTP: the files and convert functions, the import
worker polled off its queue like the other workers, and the `filegate` command line. The URLs are servers
on 127.0.0.1 started here (the local stack's loopback allowance is on)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from tests.helpers import media_samples as media
from tests.helpers.egress_servers import Site, serve, start_site, stop_site
from tests.helpers.local_api import new_account, run_cli

PNG = media.sample("png", 40, 30)
HTML = b"<!doctype html><html><body>Sign in to download</body></html>"


@pytest.fixture
def site() -> Iterator[Site]:
    s = start_site({"/photo.png": serve(PNG, "image/png"), "/share": serve(HTML, "text/html")})
    yield s
    stop_site(s)


def test_cli_imports_a_url_and_reports_an_html_page(stack, site: Site) -> None:
    key = new_account(stack)["api_key"]
    common = ("--base-url", stack.url, "--api-key", key)
    code, file = run_cli("import", site.url("/photo.png"), *common)
    assert code == 0, file
    assert isinstance(file, dict) and file["status"] == "ready" and file["format"] == "png", file
    code, failed = run_cli("import", site.url("/share"), *common)
    assert code == 1 and isinstance(failed, dict), failed
    assert failed["error"]["code"] == "unsupported_media_type" and "HTML page" in failed["error"]["message"]


def test_cli_converts_a_url_in_one_job(stack, site: Site, tmp_path: Path) -> None:
    key = new_account(stack)["api_key"]
    out = tmp_path / "photo.webp"
    code, report = run_cli(
        "convert", site.url("/photo.png"), "--to", "webp", "-o", str(out), "--base-url", stack.url, "--api-key", key
    )
    assert code == 0, report
    assert isinstance(report, list) and report[0]["ok"] and report[0]["mode"] == "async", report
    assert Image.open(out).format == "WEBP" and Image.open(out).size == (40, 30)
    assert [s.path for s in site.seen] == ["/photo.png"]  # fetched once, by the import worker
