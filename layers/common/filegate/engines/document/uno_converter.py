"""The converter process: LibreOffice (soffice.bin, kept warm) and the UNO client that drives it.

Run by the document engine (office.py) under a Python that has LibreOffice's ``uno`` module (Debian's
/usr/bin/python3; the project's own Python has none). It enters the sandbox first (sandbox.py: no network,
only its scratch directory), then starts LibreOffice. Standard library and ``uno`` only, nothing of
filegate: it runs outside the project's environment.

It starts soffice.bin as its own child (one process group: killing the group ends both), connects over an
AF_UNIX pipe, says ``{"ready": true, "soffice_pid": N}`` and then answers one JSON line per request line:
``{"input", "output", "input_filter", "input_options"?, "export_filter", "export_options"?, "filter_data"?,
"password"?, "sheet"?}`` → ``{"ok": true}`` or ``{"ok": false, "error": "load"|"password"|"sheet"|"export",
"detail"}``. It never opens a document with macros enabled or its links updated.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from typing import Any

# LibreOffice's uno module, imported once LibreOffice is starting: the import takes a good part of a second,
# spent while LibreOffice boots instead of before.
uno: Any = None

# com.sun.star.document.MacroExecMode.NEVER_EXECUTE and UpdateDocMode.NO_UPDATE
_NEVER_EXECUTE = 0
_NO_UPDATE = 0
# com.sun.star.document.LinkUpdateModes.NEVER
_LINKS_NEVER = 0
_CONNECT_SECONDS = 60.0


def _property(name: str, value: Any) -> Any:
    prop = uno.createUnoStruct("com.sun.star.beans.PropertyValue")
    prop.Name, prop.Value = name, value
    return prop


def _properties(values: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(_property(name, value) for name, value in values.items())


def _start_office(soffice: str, profile_url: str, pipe: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [soffice, f"-env:UserInstallation={profile_url}", "--headless", "--invisible", "--norestore",
         "--nolockcheck", "--nodefault", "--nologo", f"--accept=pipe,name={pipe};urp;StarOffice.ComponentContext"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def _connect(pipe: str, office: subprocess.Popen[bytes]) -> Any:
    local = uno.getComponentContext()
    resolver = local.ServiceManager.createInstanceWithContext("com.sun.star.bridge.UnoUrlResolver", local)
    deadline = time.monotonic() + _CONNECT_SECONDS
    while True:
        try:
            context = resolver.resolve(f"uno:pipe,name={pipe};urp;StarOffice.ComponentContext")
            return context.ServiceManager.createInstanceWithContext("com.sun.star.frame.Desktop", context)
        except Exception:
            if office.poll() is not None or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _sheet_number(document: Any, wanted: str) -> int:
    """The 1-based number of the sheet named `wanted` or numbered so; KeyError naming the sheets there are."""
    names = list(document.Sheets.ElementNames)
    if wanted in names:
        return names.index(wanted) + 1
    if wanted.isdigit() and 1 <= int(wanted) <= len(names):
        return int(wanted)
    raise KeyError(", ".join(names))


def _convert(desktop: Any, request: dict[str, Any]) -> dict[str, Any]:
    load = {
        "Hidden": True,
        "ReadOnly": True,
        "MacroExecutionMode": _NEVER_EXECUTE,
        "UpdateDocMode": _NO_UPDATE,
        "FilterName": request["input_filter"],
    }
    if request.get("input_options"):
        load["FilterOptions"] = request["input_options"]
    if request.get("password") is not None:
        load["Password"] = request["password"]
    try:
        document = desktop.loadComponentFromURL(uno.systemPathToFileUrl(request["input"]), "_blank", 0,
                                                _properties(load))  # fmt: skip
    except Exception as exc:
        kind = "password" if "password" in str(exc).lower() else "load"
        return {"ok": False, "error": kind, "detail": type(exc).__name__}
    if document is None:
        return {"ok": False, "error": "load", "detail": "nothing loaded"}
    try:
        with contextlib.suppress(Exception):  # not every document has the property
            document.LinkUpdateMode = _LINKS_NEVER
        export_options = request.get("export_options") or ""
        sheet_name = None
        if request.get("sheet") is not None:
            try:
                number = _sheet_number(document, str(request["sheet"]))
            except KeyError as exc:
                return {"ok": False, "error": "sheet", "detail": str(exc.args[0])}
            sheet_name = document.Sheets.ElementNames[number - 1]
            # Field 12 of the CSV filter's options: which sheet (1-based) is written.
            export_options = f"{export_options},,0,false,true,true,false,false,{number}"
        store = {"FilterName": request["export_filter"], "Overwrite": True}
        if export_options:
            store["FilterOptions"] = export_options
        if request.get("filter_data"):
            store["FilterData"] = uno.Any("[]com.sun.star.beans.PropertyValue", _properties(request["filter_data"]))
        try:
            document.storeToURL(uno.systemPathToFileUrl(request["output"]), _properties(store))
        except Exception as exc:
            return {"ok": False, "error": "export", "detail": type(exc).__name__}
        if sheet_name is not None:
            # One sheet's CSV is written as <name>-<sheet name>.csv beside the name asked for.
            stem, dot, suffix = request["output"].rpartition(".")
            os.replace(f"{stem}-{sheet_name}{dot}{suffix}", request["output"])
        return {"ok": True}
    finally:
        try:
            document.close(True)
        except Exception:
            document.dispose()


def _enter_sandbox(scratch: str) -> None:
    """No network, and (Landlock) only this directory's files and the scratch directory: sandbox.py, loaded
    by its path (this Python has no filegate)."""
    import importlib.util

    here = os.path.dirname(os.path.abspath(__file__))
    spec = importlib.util.spec_from_file_location("filegate_sandbox", os.path.join(here, "sandbox.py"))
    assert spec is not None and spec.loader is not None
    sandbox = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(sandbox)
    sandbox.enter(readable=(here,), writable=(scratch,))


def main() -> int:
    soffice, profile_url, pipe, scratch = sys.argv[1:5]
    _enter_sandbox(scratch)
    out = sys.stdout
    office = _start_office(soffice, profile_url, pipe)
    global uno
    import uno as loaded

    uno = loaded
    desktop = _connect(pipe, office)
    out.write(json.dumps({"ready": True, "soffice_pid": office.pid}) + "\n")
    out.flush()
    for line in sys.stdin:
        answer = _convert(desktop, json.loads(line))
        if office.poll() is not None:
            return 1  # LibreOffice died under this document: no answer, so the engine starts afresh
        out.write(json.dumps(answer) + "\n")
        out.flush()
    with contextlib.suppress(Exception):  # it may already be gone; the group is killed after us anyway
        desktop.terminate()
    office.wait(timeout=10)
    return 0


if __name__ == "__main__":
    os.umask(0o077)
    sys.exit(main())
