"""One list of Debian packages (infra/system-packages.txt) for the document image and for `make
system-packages` (the local stack, the tests, CI), so tests run the LibreOffice production runs."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from filegate_local.images import task_root_sources
from tests.helpers.template import ROOT

PACKAGES = ROOT / "infra" / "system-packages.txt"
DOCKERFILE = ROOT / "functions" / "documents" / "Dockerfile"
MAKEFILE = ROOT / "Makefile"
DEBIAN_NAME = re.compile(r"[a-z0-9][a-z0-9+.-]+")


def listed(text: str) -> list[str]:
    """The packages of a list: `#` starts a comment, names are separated by white space."""
    return [word for line in text.splitlines() for word in line.split("#", 1)[0].split()]


def dockerfile_runs() -> list[str]:
    """The Dockerfile's RUN instructions, continued lines joined."""
    joined = re.sub(r"\\\n", " ", DOCKERFILE.read_text(encoding="utf-8"))
    return [line.strip()[4:] for line in joined.splitlines() if line.strip().startswith("RUN ")]


def test_the_list_holds_what_the_engines_need() -> None:
    packages = listed(PACKAGES.read_text(encoding="utf-8"))
    assert len(packages) == len(set(packages)), "a package is listed twice"
    assert all(DEBIAN_NAME.fullmatch(p) for p in packages), packages
    assert {
        "libreoffice-writer-nogui", "libreoffice-calc-nogui", "libreoffice-impress-nogui", "python3-uno",
        "fonts-crosextra-carlito", "fonts-crosextra-caladea", "fonts-liberation2", "fonts-noto-core",
        "fonts-noto-cjk", "fonts-noto-color-emoji", "fonts-noto-extra",
        "tesseract-ocr", "tesseract-ocr-eng", "tesseract-ocr-deu", "qpdf", "poppler-utils",
    } <= set(packages)  # fmt: skip
    # Never the GUI LibreOffice (X11 and a desktop's worth of libraries in a Lambda image).
    assert not [p for p in packages if p.startswith("libreoffice") and not p.endswith("-nogui")]


def test_the_image_installs_exactly_the_list() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    assert re.search(r"^FROM debian:bookworm", text, re.M), "the image is Debian 12, like make system-packages' machine"
    copied = re.search(r"^COPY infra/system-packages\.txt (\S+)$", text, re.M)
    assert copied, "the Dockerfile copies the list itself, never a copy of its names"
    installs = [run for run in dockerfile_runs() if "apt-get install" in run]
    assert len(installs) == 1, "one apt-get install, from the list"
    pipeline = next(part for part in installs[0].split("&&") if "apt-get install" in part)
    feed, _, install = pipeline.partition("|")
    assert shlex.split(feed) == ["sed", "-e", "s/#.*//", copied.group(1)]
    # Nothing but the list's names: every argument after `install` is an option.
    words = shlex.split(install)
    assert words[:3] == ["xargs", "-r", "apt-get"], install
    assert all(w.startswith("-") for w in words[4:]), f"the image installs a package the list lacks: {words}"
    assert "--no-install-recommends" in words, "the same selection as make system-packages"


def test_the_makefile_reads_the_same_list_the_same_way() -> None:
    text = MAKEFILE.read_text(encoding="utf-8")
    assert re.search(r"^SYSTEM_PACKAGES_LIST \?= infra/system-packages\.txt$", text, re.M)
    assert re.search(r"^APT_INSTALL := apt-get install -y -qq --no-install-recommends$", text, re.M)
    recipe = text[text.index("\nsystem-packages:") :].split("\n\n", 1)[0]
    assert """sed -e 's/#.*//' "$(SYSTEM_PACKAGES_LIST)\"""" in recipe
    for target in ("dev", "unit", "service", "integration", "bench"):
        prerequisites = re.search(rf"^{target}: ([^#]*)##", text, re.M)
        assert prerequisites and "system-packages" in prerequisites.group(1).split(), target


def _make_system_packages(tmp_path: Path, names: str) -> str:
    listing = tmp_path / "packages.txt"
    listing.write_text(names, encoding="utf-8")
    done = subprocess.run(
        ["make", "-s", "-C", str(ROOT), "system-packages", f"SYSTEM_PACKAGES_LIST={listing}", "DRY_RUN=1"],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    return done.stdout.strip()


@pytest.mark.skipif(shutil.which("dpkg-query") is None or shutil.which("make") is None, reason="Debian and make")
def test_make_system_packages_names_only_what_is_missing(tmp_path: Path) -> None:
    # qpdf is on the list, so `make test` installed it first; the other name is no package at all.
    out = _make_system_packages(tmp_path, "qpdf  # page surgery\n# a comment line\n\nfilegate-no-such-package\n")
    assert out == "system packages missing: filegate-no-such-package"
    assert _make_system_packages(tmp_path, "qpdf\n").startswith("system packages: every one of")


def test_the_local_stack_runs_the_task_root_the_image_copies() -> None:
    # The image's task root is this folder with the shared package beside it: the local stack puts the same
    # source folders on the path (filegate_local.images), so it runs the handler AWS runs.
    code_dir, path_dirs = task_root_sources(DOCKERFILE, ROOT)
    assert code_dir == ROOT / "functions" / "documents"
    assert path_dirs == (ROOT / "layers" / "common",)


def test_the_build_context_sends_what_the_image_copies() -> None:
    ignore = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    assert ignore[ignore.index("*") if "*" in ignore else -1] == "*", "the context starts from nothing"
    allowed = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    sources = re.findall(r"^COPY (\S+) \S+$", DOCKERFILE.read_text(encoding="utf-8"), re.M)
    for source in sources:
        path = source.rstrip("/")
        assert any(path == a or path.startswith(a + "/") for a in allowed), f"{source} is not in the context"


def test_the_image_runs_the_templates_handler_with_the_runtime_interface_client() -> None:
    import json

    text = DOCKERFILE.read_text(encoding="utf-8")
    entrypoint = json.loads(re.search(r"^ENTRYPOINT (.+)$", text, re.M).group(1))  # type: ignore[union-attr]
    command = json.loads(re.search(r"^CMD (.+)$", text, re.M).group(1))  # type: ignore[union-attr]
    assert entrypoint[-2:] == ["-m", "awslambdaric"]
    template = (ROOT / "template.yaml").read_text(encoding="utf-8")
    assert f"ImageConfig:\n        Command: {command}".replace("'", "") in template  # the image's default
    requirements = (DOCKERFILE.parent / "requirements.txt").read_text(encoding="utf-8").splitlines()
    assert "-r ../../layers/common/requirements.txt" in requirements  # the shared package's dependencies
    assert any(line.startswith("awslambdaric==") for line in requirements)


def test_the_function_starts_libreoffice_from_the_profile_the_image_bakes(tmp_path: Path) -> None:
    import json
    import sys

    text = DOCKERFILE.read_text(encoding="utf-8")
    baked = re.search(r"^ENV DOCUMENT_PROFILE_DIR=(\S+)$", text, re.M)
    assert baked and 'python -m filegate.engines.document.office "$DOCUMENT_PROFILE_DIR"' in text
    # The handler module, imported as Lambda would with the image's variable (and the template's names).
    names = ["FILES_TABLE", "BUCKET", "CONVERSIONS_TABLE", "COUNTERS_TABLE", "WEBHOOKS_TABLE", "WEBHOOK_SECRETS_TABLE"]
    env = {name: "x" for name in [*names, "WEBHOOK_DELIVERIES_TABLE", "WEBHOOKS_QUEUE_URL"]}
    env.update(DOCUMENT_PROFILE_DIR=str(tmp_path), AWS_DEFAULT_REGION="us-east-1", PATH="/usr/bin:/bin")
    code = "import app; print(json.dumps(str(app.documents.office.settings.profile_template)))"
    done = subprocess.run(
        [sys.executable, "-c", f"import json; {code}"], cwd=DOCKERFILE.parent, env=env,
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    assert json.loads(done.stdout.strip().splitlines()[-1]) == str(tmp_path)
