"""infra/checkov.yaml: checkov's skips are decisions, so each one is written down with its reason."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

CONFIG = Path(__file__).resolve().parents[2] / "infra" / "checkov.yaml"
SKIP_LINE = re.compile(r"^\s*-\s*(CKV2?_AWS_\d+)\s*(?:#\s*(.*))?$")
SHORTEST_REASON = 40  # characters: a sentence that says why, not a label


def test_every_skipped_check_says_why() -> None:
    config = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))
    skipped = config["skip-check"]
    reasons = {}
    for line in CONFIG.read_text(encoding="utf-8").splitlines():
        match = SKIP_LINE.match(line)
        if match:
            reasons[match.group(1)] = match.group(2) or ""
    assert sorted(reasons) == sorted(skipped), "one check per line, as listed"
    short = {check: reason for check, reason in reasons.items() if len(reason) < SHORTEST_REASON}
    assert not short, f"skips without a reason: {short}"
    assert len(set(skipped)) == len(skipped)


def test_checkov_scans_the_template_offline_and_fails_on_what_it_finds() -> None:
    config = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))
    assert config["framework"] == ["cloudformation"]
    assert not config.get("soft-fail"), "a finding fails the build"
    makefile = (CONFIG.parents[1] / "Makefile").read_text(encoding="utf-8")
    assert "checkov --skip-download --config-file infra/checkov.yaml --file $(TEMPLATE)" in makefile
