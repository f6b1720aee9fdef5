"""LibreOffice's locked-down user profile, baked once and copied for every LibreOffice process started.

What it turns off (each an item of registrymodifications.xcu): macros (security level "very high" and macro
execution disabled), links to untrusted places (BlockUntrustedRefererLinks), link updates in Writer and Calc,
the first-start wizard, auto-recovery and auto-save, the update check, Java. Loading a document also asks for
no update of its links (the converter's media descriptor); the sandbox (no network) and inspection (external
references dropped) stand behind both.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
from pathlib import Path
from xml.sax.saxutils import escape

# (path, property, type, value)
_LOCKED_DOWN: tuple[tuple[str, str, str, str], ...] = (
    ("/org.openoffice.Office.Common/Security/Scripting", "MacroSecurityLevel", "int", "3"),
    ("/org.openoffice.Office.Common/Security/Scripting", "DisableMacrosExecution", "boolean", "true"),
    ("/org.openoffice.Office.Common/Security/Scripting", "BlockUntrustedRefererLinks", "boolean", "true"),
    ("/org.openoffice.Office.Common/Security/Scripting", "RemovePersonalInfoOnSaving", "boolean", "true"),
    ("/org.openoffice.Setup/Office", "ooSetupInstCompleted", "boolean", "true"),
    ("/org.openoffice.Setup/Office", "FirstStartWizardCompleted", "boolean", "true"),
    # Links to other files and data (sections, pictures, DDE, external ranges) are never updated on load:
    # Writer's UpdateLinks NEVER is 0, Calc's ScLkUpdMode LM_NEVER is 1.
    ("/org.openoffice.Office.Writer/Content/Update", "Link", "int", "0"),
    ("/org.openoffice.Office.Calc/Content/Update", "Link", "int", "1"),
    ("/org.openoffice.Office.Recovery/AutoSave", "Enabled", "boolean", "false"),
    ("/org.openoffice.Office.Recovery/RecoveryInfo", "Enabled", "boolean", "false"),
    ("/org.openoffice.Office.Common/Save/Document", "CreateBackup", "boolean", "false"),
    (
        "/org.openoffice.Office.Jobs/Jobs/org.openoffice.Office.Jobs:Job['UpdateCheck']/Arguments",
        "AutoCheckEnabled",
        "boolean",
        "false",
    ),
    ("/org.openoffice.Office.Java/VirtualMachine", "Enable", "boolean", "false"),
    ("/org.openoffice.Office.Common/Misc", "UseLocking", "boolean", "false"),
    ("/org.openoffice.Office.Common/Misc", "ShowTipOfTheDay", "boolean", "false"),
    ("/org.openoffice.Office.Common/Misc", "CollectUsageInformation", "boolean", "false"),
)

PROFILE_FILE = "registrymodifications.xcu"


def fingerprint() -> str:
    """A short digest of the settings: a profile baked with other settings is never taken for this one."""
    return hashlib.sha256(repr(_LOCKED_DOWN).encode()).hexdigest()[:12]


def _items() -> str:
    return "\n".join(
        f'<item oor:path="{escape(path, {chr(34): "&quot;"})}"><prop oor:name="{name}" oor:op="fuse">'
        f"<value>{value}</value></prop></item>"
        for path, name, _type, value in _LOCKED_DOWN
    )


def registry_modifications(written: str = "") -> str:
    """The profile's settings file: what LibreOffice `written` there, then ours (the later item wins)."""
    closing = "</oor:items>"
    if closing in written:
        return written[: written.rindex(closing)] + _items() + "\n" + closing + "\n"
    items = _items()
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<oor:items xmlns:oor="http://openoffice.org/2001/registry" '
        'xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">\n'
        f"{items}\n</oor:items>\n"
    )


def locked_down_items() -> tuple[tuple[str, str, str], ...]:
    """(path, property, value) of every setting the profile holds (tests read the baked file against it)."""
    return tuple((path, name, value) for path, name, _type, value in _LOCKED_DOWN)


def bake(template: Path, soffice: str, *, seconds: float = 120.0) -> Path:
    """Write the profile into `template` and let LibreOffice complete it once (its first start, which writes
    the rest of the profile, is then never paid again); the settings are appended again afterwards, so
    nothing LibreOffice wrote over them stands. `template` is replaced whole, atomically."""
    template.parent.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(prefix=template.name + ".", dir=template.parent))
    user = building / "user"
    user.mkdir()
    (user / PROFILE_FILE).write_text(registry_modifications())
    home = building / "home"
    home.mkdir()
    # No sandbox here: no user input is opened, only the profile written (and a preexec_fn is unsafe where
    # threads run).
    subprocess.run(
        [soffice, f"-env:UserInstallation={building.as_uri()}", "--headless", "--invisible", "--norestore",
         "--nolockcheck", "--nodefault", "--terminate_after_init"],
        env={"HOME": str(home), "TMPDIR": str(home), "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True, timeout=seconds, check=False, cwd=building,
    )  # fmt: skip
    settings = user / PROFILE_FILE
    settings.write_text(registry_modifications(settings.read_text() if settings.exists() else ""))
    shutil.rmtree(home, ignore_errors=True)
    if template.exists():
        shutil.rmtree(template)
    building.rename(template)
    return template
