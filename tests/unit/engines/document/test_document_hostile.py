"""Hostile documents end to end, the sandbox, and recovery from a hung or crashed converter (docs/api.md
"Documents" → Safety). Each test proves what did not happen: no connection reached the listener, no local
file's text is in the output, the macro's file never appeared; faults are injected at the office's named
checkpoints, never by timing."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from document_helpers import convert, output_bytes

from filegate.engines.document import sandbox
from filegate.engines.document.engine import DocumentEngine
from filegate.engines.document.office import Office, OfficeSettings, alive, uno_python
from filegate.engines.interface import OverBudget, RunLimits, Source, Workspace
from filegate.errors import ConversionFailed
from filegate.tiers import TIERS
from tests.helpers import document_samples as fd
from tests.helpers.listener import Listener, listening

PASSWD_MARKER = "root:"


@pytest.fixture
def listener() -> Iterator[Listener]:
    with listening() as open_listener:
        yield open_listener


def raw_conversion(office: Office, name: str, data: bytes, input_filter: str) -> str:
    """`data` straight to LibreOffice (no inspection, no defusing: only the sandbox and the profile stand),
    the PDF's text."""
    with office.job() as job:
        (job / name).write_bytes(data)
        request = {"input": str(job / name), "output": str(job / "out.pdf"), "input_filter": input_filter}
        answer = office.convert({**request, "export_filter": "writer_pdf_Export"}, 60)
        assert answer == {"ok": True}
        return fd.pdf_text(job / "out.pdf")


def remote_page(url: str) -> bytes:
    return (
        f'<html><head><link rel="stylesheet" href="{url}/style.css"></head><body><p>Remote things follow</p>'
        f'<img src="{url}/picture.png"><iframe src="{url}/frame.html"></iframe></body></html>'
    ).encode()


# ------------------------------------------------------------------------------------------- no network


def test_the_sandbox_refuses_inet_sockets_and_keeps_unix_ones() -> None:
    """A system Python that enters the sandbox (as the converter does, loading sandbox.py by its path)."""
    probe = (
        "import importlib.util, socket, sys\n"
        "spec = importlib.util.spec_from_file_location('sandbox', sys.argv[1])\n"
        "sandbox = importlib.util.module_from_spec(spec); spec.loader.exec_module(sandbox)\n"
        "sandbox.enter()\n"
        "for family in (socket.AF_INET, socket.AF_INET6):\n"
        "    try:\n        socket.socket(family)\n        print('opened')\n"
        "    except PermissionError:\n        print('refused')\n"
        "socket.socket(socket.AF_UNIX).close()\nprint('unix')\n"
    )
    result = subprocess.run([uno_python(), "-c", probe, sandbox.__file__], capture_output=True, text=True)
    assert result.stdout.split() == ["refused", "refused", "unix"], result.stderr
    assert socket.socket(socket.AF_INET).close() is None  # this process, unfiltered, still can


def test_the_filter_is_built_for_each_architecture() -> None:
    x86, arm = sandbox.filter_program("x86_64"), sandbox.filter_program("aarch64")
    assert x86 != arm and len(x86) % 8 == 0 and len(arm) % 8 == 0
    with pytest.raises(sandbox.SandboxUnavailable):
        sandbox.filter_program("mips")


@pytest.mark.skipif(sandbox.landlock_abi() == 0, reason="this kernel has no Landlock")
def test_the_sandbox_reads_no_process_environment() -> None:
    """/proc is not among the readable paths: the worker's environment (its credentials, in a Lambda) cannot be
    read from the sandbox, while a system file can (the control)."""
    probe = (
        "import importlib.util, os, sys\n"
        "spec = importlib.util.spec_from_file_location('sandbox', sys.argv[1])\n"
        "sandbox = importlib.util.module_from_spec(spec); spec.loader.exec_module(sandbox)\n"
        "sandbox.enter()\n"
        "for path in (f'/proc/{os.getppid()}/environ', '/proc/self/environ', '/etc/passwd'):\n"
        "    try:\n        open(path, 'rb').read(1)\n        print('read')\n"
        "    except PermissionError:\n        print('refused')\n"
    )
    result = subprocess.run([uno_python(), "-c", probe, sandbox.__file__], capture_output=True, text=True)
    assert result.stdout.split() == ["refused", "refused", "read"], result.stderr


@pytest.mark.skipif(sandbox.landlock_abi() == 0, reason="this kernel has no Landlock")
def test_the_converter_reads_no_file_outside_its_scratch_directory(engine: DocumentEngine, tmp_path: Path) -> None:
    outside = tmp_path / "secret.html"
    outside.write_bytes(b"<html><body><p>secret words</p></body></html>")
    with engine.office.job() as job:
        request = {"input_filter": "HTML (StarWriter)", "export_filter": "writer_pdf_Export"}
        refused = engine.office.convert({**request, "input": str(outside), "output": str(job / "a.pdf")}, 60)
        assert refused["ok"] is False and not (job / "a.pdf").exists()
        inside = job / "secret.html"  # control: the same file inside its scratch directory converts
        inside.write_bytes(outside.read_bytes())
        assert engine.office.convert({**request, "input": str(inside), "output": str(job / "b.pdf")}, 60)["ok"]
        assert "secret words" in fd.pdf_text(job / "b.pdf")


def test_libreoffice_in_the_sandbox_fetches_nothing_even_from_an_undefused_page(
    engine: DocumentEngine, listener: Listener
) -> None:
    text = raw_conversion(engine.office, "page.html", remote_page(listener.url), "HTML (StarWriter)")
    assert "Remote things follow" in text
    assert listener.connections == 0


def test_control_without_the_sandbox_the_same_page_does_connect(listener: Listener, tmp_path: Path) -> None:
    """Proves the listener and the page above can catch a fetch: the same LibreOffice, run plainly (as a user
    scripts it, no sandbox), makes one."""
    page = tmp_path / "page.html"
    page.write_bytes(remote_page(listener.url))
    profile_dir = (tmp_path / "profile").as_uri()
    subprocess.run(
        ["soffice", f"-env:UserInstallation={profile_dir}", "--headless", "--convert-to", "pdf:writer_pdf_Export",
         "--outdir", str(tmp_path), str(page)],
        env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}, capture_output=True, timeout=300, check=True,
    )  # fmt: skip
    assert (tmp_path / "page.pdf").exists()
    assert listener.connections > 0


def test_an_external_image_is_never_fetched(engine: DocumentEngine, workspace: Workspace, listener: Listener) -> None:
    output = convert(engine, workspace, "docx", fd.docx_with_external_image(f"{listener.url}/pic.png"), "pdf")
    assert fd.in_order(fd.pdf_text(output_bytes(output)), ["Before the picture", "After the picture"])
    assert listener.connections == 0


def test_a_remote_template_is_never_fetched(engine: DocumentEngine, workspace: Workspace, listener: Listener) -> None:
    convert(engine, workspace, "docx", fd.docx_with_remote_template(f"{listener.url}/t.dotx"), "pdf")
    assert listener.connections == 0


def test_remote_parts_of_an_html_input_are_never_fetched(
    engine: DocumentEngine, workspace: Workspace, listener: Listener
) -> None:
    for target in ("pdf", "docx"):
        convert(engine, workspace, "html", remote_page(listener.url), target)
    md = f"![p]({listener.url}/p.png) text <img src='{listener.url}/raw.png'>".encode()
    convert(engine, workspace, "md", md, "pdf")
    assert listener.connections == 0


def test_include_and_dde_fields_neither_fetch_nor_read_local_files(
    engine: DocumentEngine, workspace: Workspace, listener: Listener
) -> None:
    hostile = fd.docx_with_fields(
        "INCLUDETEXT /etc/passwd", f"INCLUDEPICTURE {listener.url}/x.png", 'DDEAUTO "cmd" "/c calc"'
    )
    text = fd.pdf_text(output_bytes(convert(engine, workspace, "docx", hostile, "pdf")))
    assert "Fields follow" in text and PASSWD_MARKER not in text
    assert listener.connections == 0


def test_fields_of_an_uninspected_rtf_neither_fetch_nor_read_local_files(
    engine: DocumentEngine, workspace: Workspace, listener: Listener, tmp_path: Path
) -> None:
    """RTF reaches LibreOffice as it came: its fields' links are never updated (the profile, the load
    arguments), so only their stale results show, in the PDF and in a Word copy alike."""
    secret = tmp_path / "secret.txt"
    secret.write_text("a secret marker\n")
    hostile = fd.rtf_with_fields(
        f'INCLUDETEXT "{secret}"', 'INCLUDETEXT "/etc/passwd"', f'INCLUDEPICTURE "{listener.url}/x.png"',
        'DDEAUTO "cmd" "/c calc"',
    )  # fmt: skip
    text = fd.pdf_text(output_bytes(convert(engine, workspace, "rtf", hostile, "pdf")))
    assert "Fields follow" in text and "stale0" in text
    assert "secret marker" not in text and PASSWD_MARKER not in text
    copy = output_bytes(convert(engine, workspace, "rtf", hostile, "docx"))
    assert b"stale0" in fd.part(copy, "word/document.xml")
    assert b"secret marker" not in fd.part(copy, "word/document.xml")
    assert listener.connections == 0


def test_an_xml_entity_reading_etc_passwd_never_reaches_the_output(
    engine: DocumentEngine, workspace: Workspace
) -> None:
    with pytest.raises(ConversionFailed, match="DOCTYPE"):
        convert(engine, workspace, "docx", fd.docx_with_xxe("/etc/passwd"), "pdf")


def test_a_zip_bomb_and_a_10001_entry_zip_are_refused(engine: DocumentEngine, workspace: Workspace) -> None:
    with pytest.raises(ConversionFailed, match="zip bomb"):
        convert(engine, workspace, "docx", fd.zip_bomb(64), "pdf")
    with pytest.raises(ConversionFailed, match="10,000"):
        convert(engine, workspace, "docx", fd.zip_of_many_entries(10_001), "pdf")


def test_a_macro_never_runs(engine: DocumentEngine, workspace: Workspace, tmp_path: Path) -> None:
    marker = tmp_path / "macro-ran"
    hostile = fd.odt_with_macro(marker)
    text = fd.pdf_text(output_bytes(convert(engine, workspace, "odt", hostile, "pdf")))
    assert "A document with a macro" in text
    # Straight to LibreOffice too (its macro kept): the profile and the load arguments alone stop it.
    raw_conversion(engine.office, "macro.odt", hostile, "writer8")
    assert not marker.exists()


def test_the_profile_is_locked_down(engine: DocumentEngine) -> None:
    """The baked profile's settings file holds every locked-down value as its last word on that setting."""
    from xml.etree import ElementTree

    from filegate.engines.document import profile
    from filegate.engines.document.office import baked_profile

    root = ElementTree.parse(baked_profile(engine.office.settings) / "user" / profile.PROFILE_FILE).getroot()
    oor = "{http://openoffice.org/2001/registry}"
    last: dict[tuple[str, str], str] = {}
    for item in root:
        for prop in item.iter("prop"):
            value = prop.find("value")
            last[(item.get(f"{oor}path", ""), prop.get(f"{oor}name", ""))] = "" if value is None else value.text or ""
    for path, name, value in profile.locked_down_items():
        assert last[(path, name)] == value, name


# ------------------------------------------------------------------------------------------- recovery


@contextmanager
def at_checkpoint(office: Office, wanted: str, act: signal.Signals) -> Iterator[list[str]]:
    """While active, the first `wanted` checkpoint sends `act` to LibreOffice; yields what fired."""
    fired: list[str] = []

    def hook(name: str, running: Office) -> None:
        if name == wanted and running.soffice_pid is not None and not fired:
            fired.append(name)
            os.kill(running.soffice_pid, act)

    office.on_checkpoint = hook
    try:
        yield fired
    finally:
        office.on_checkpoint = None


def short_limits(tmp_path: Path, seconds: float) -> Workspace:
    return Workspace(
        tmp_path, limits=RunLimits(wall_seconds=seconds, cpu_seconds=60, memory_mb=2048, max_output_mb=512)
    )


def run(engine: DocumentEngine, workspace: Workspace, *, seconds: float | None = None) -> bytes:
    options = engine.parse_options({}, source="docx", target="pdf")
    plan = engine.plan("docx", "pdf", options, TIERS["free"])
    output = engine.run(
        Source("docx", data=fd.docx_document(1)), plan, options, TIERS["free"], workspace, seconds=seconds
    )
    return output_bytes(output)


def test_a_hung_converter_is_cut_off_at_its_time_limit_and_the_next_conversion_works(
    engine: DocumentEngine, tmp_path: Path
) -> None:
    run(engine, Workspace(tmp_path))
    hung = engine.office.soffice_pid
    assert hung is not None
    with (
        at_checkpoint(engine.office, "sent", signal.SIGSTOP) as fired,
        pytest.raises(ConversionFailed, match="within 2"),
    ):
        run(engine, short_limits(tmp_path, 2))
    assert fired == ["sent"]
    assert not alive(hung)  # the stopped LibreOffice was killed with its group
    assert fd.in_order(fd.pdf_text(run(engine, Workspace(tmp_path))), fd.words(1))
    assert engine.office.soffice_pid not in (None, hung)


def test_a_conversion_given_seconds_is_over_budget_when_it_hangs(engine: DocumentEngine, tmp_path: Path) -> None:
    run(engine, Workspace(tmp_path))
    with at_checkpoint(engine.office, "sent", signal.SIGSTOP) as fired, pytest.raises(OverBudget):
        run(engine, Workspace(tmp_path), seconds=1.5)
    assert fired == ["sent"]
    assert run(engine, Workspace(tmp_path))


def test_a_crashed_converter_fails_the_conversion_and_the_next_one_works(
    engine: DocumentEngine, tmp_path: Path
) -> None:
    run(engine, Workspace(tmp_path))
    crashed = engine.office.soffice_pid
    with (
        at_checkpoint(engine.office, "sent", signal.SIGKILL) as fired,
        pytest.raises(ConversionFailed, match="stopped"),
    ):
        run(engine, Workspace(tmp_path))
    assert fired == ["sent"]
    assert fd.in_order(fd.pdf_text(run(engine, Workspace(tmp_path))), fd.words(1))
    assert engine.office.soffice_pid != crashed


def test_libreoffice_dying_under_a_request_is_a_crash_even_when_the_converter_answers(
    engine: DocumentEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The converter may still answer ("could not load") after LibreOffice died under it: the user is told the
    converter stopped, never that the document is corrupt, and the next conversion gets a new LibreOffice."""
    run(engine, Workspace(tmp_path))
    crashed = engine.office.soffice_pid
    assert crashed is not None
    read_line = Office._read_line

    def dies_then_answers(office: Office, running: Any, deadline: float) -> dict[str, Any]:
        read_line(office, running, deadline)  # the real answer, then LibreOffice dies before it is looked at
        os.kill(crashed, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while alive(crashed) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not alive(crashed)
        return {"ok": False, "error": "load"}

    monkeypatch.setattr(Office, "_read_line", dies_then_answers)
    with pytest.raises(ConversionFailed, match="stopped"):
        run(engine, Workspace(tmp_path))
    monkeypatch.setattr(Office, "_read_line", read_line)
    assert fd.in_order(fd.pdf_text(run(engine, Workspace(tmp_path))), fd.words(1))
    assert engine.office.soffice_pid != crashed


def test_libreoffice_dying_between_conversions_costs_the_next_one_nothing(
    engine: DocumentEngine, tmp_path: Path
) -> None:
    run(engine, Workspace(tmp_path))
    died = engine.office.soffice_pid
    assert died is not None
    os.kill(died, signal.SIGKILL)
    assert fd.in_order(fd.pdf_text(run(engine, Workspace(tmp_path))), fd.words(1))
    assert engine.office.soffice_pid != died


def test_libreoffice_is_restarted_after_n_conversions(tmp_path: Path) -> None:
    engine = DocumentEngine(Office(OfficeSettings(restart_after=2)))
    try:
        for _ in range(3):
            run(engine, Workspace(tmp_path))
        assert engine.office.starts == 2
        cold = engine.office.last_start_seconds
        assert cold is not None and cold > 0
    finally:
        engine.office.stop()


def flat_odf(url: str) -> bytes:
    """A flat ODF text document (one XML file) that links a picture from `url` and declares an entity that
    reads /etc/passwd: the kind of file that once went past a sanitiser."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE office:document [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'
        '<office:document xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
        'xmlns:draw="urn:oasis:names:tc:opendocument:xmlns:drawing:1.0" xmlns:xlink="http://www.w3.org/1999/xlink" '
        'office:version="1.3" office:mimetype="application/vnd.oasis.opendocument.text"><office:body><office:text>'
        f'<text:p>Flat words &xxe;</text:p><draw:frame><draw:image xlink:href="{url}/flat.png"/></draw:frame>'
        "</office:text></office:body></office:document>"
    ).encode()


@pytest.mark.parametrize(("filename", "fmt"), [("evil.fodt", "txt"), ("evil.html", "html")])
def test_a_flat_odf_file_is_only_ever_text(
    engine: DocumentEngine, workspace: Workspace, listener: Listener, filename: str, fmt: str
) -> None:
    """Never opened as ODF (the import filter is chosen by the sniffed format, never by LibreOffice's guess):
    as text its XML is shown, as HTML its tags are dropped; either way nothing is fetched or read."""
    from filegate.formats.sniff import sniff

    data = flat_odf(listener.url)
    assert sniff(data, filename=filename) == fmt
    text = fd.pdf_text(output_bytes(convert(engine, workspace, fmt, data, "pdf")))
    assert "Flat words" in text and PASSWD_MARKER not in text
    assert listener.connections == 0
