"""infra/'s scripts (deploy.py, the admin CLI) imported by the tests as the Makefile runs them: from infra/."""

from __future__ import annotations

import importlib
import sys
from types import ModuleType

from tests.helpers.template import ROOT

INFRA = ROOT / "infra"


def infra_module(name: str) -> ModuleType:
    """infra/<name>.py as a module (infra/ is put on sys.path once, as `python infra/<name>.py` would)."""
    if str(INFRA) not in sys.path:
        sys.path.insert(0, str(INFRA))
    return importlib.import_module(name)
