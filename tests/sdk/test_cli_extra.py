"""The SDK alone does not need rich: the command line is the `cli` extra, and says how to install it."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

CLIENT = Path(__file__).resolve().parents[2] / "clients" / "python"
# Run with rich unimportable, as in an environment where only the SDK was installed.
WITHOUT_RICH = "import sys; sys.modules['rich'] = None; "


def test_rich_is_the_cli_extra_not_a_dependency() -> None:
    project = tomllib.loads((CLIENT / "pyproject.toml").read_text())["project"]
    assert not any(d.startswith("rich") for d in project["dependencies"])
    assert any(d.startswith("rich") for d in project["optional-dependencies"]["cli"])
    assert project["scripts"]["filegate"] == "filegate_client.entry:main"


def test_the_sdk_works_without_rich() -> None:
    code = WITHOUT_RICH + "from filegate_client import FileGate, verify; assert 'rich.console' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_the_command_line_without_rich_says_how_to_install_it() -> None:
    code = WITHOUT_RICH + "from filegate_client.entry import main; sys.exit(main(['whoami']))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done
    assert "pip install 'filegate-client[cli]'" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
