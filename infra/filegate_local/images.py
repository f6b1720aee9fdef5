"""A container-image function (`PackageType: Image`) run like a zip function, without Docker.

SAM builds the image from the function's `Metadata` (`Dockerfile`, `DockerContext`); Lambda then starts
the image's runtime interface client with `ImageConfig.Command` as the handler, in the image's `WORKDIR`
(the task root). Locally the same handler runs in-process in a worker (filegate_local.runtime), and what the
Dockerfile copies into the task root is put on the path straight from the source tree:

- `COPY <folder>/ ./` (the folder's files become the task root's): that folder is the code directory;
- `COPY <folder>/<name> ./<name>` (a package beside the handler): `<folder>` goes on the path, as a layer.

The system packages the image installs are the machine's own (`make system-packages` installs the same
list), and its Python packages the virtual environment's (`make venv`, from the same requirement files).
Only what template.yaml's image functions use is read; anything else fails loudly.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from filegate_local.template import TemplateError


@dataclass(frozen=True)
class ImageCode:
    """Where an image function's code is in the source tree: its task root's own files and what goes beside."""

    code_dir: Path
    path_dirs: tuple[Path, ...]
    handler: str


def image_code(logical_id: str, props: dict[str, Any], metadata: dict[str, Any], base_dir: Path) -> ImageCode:
    """The code of the image function `logical_id` (its resolved properties and Metadata)."""
    dockerfile, context = metadata.get("Dockerfile"), metadata.get("DockerContext")
    if not isinstance(dockerfile, str) or not isinstance(context, str):
        raise TemplateError(f"{logical_id}: an Image function needs Metadata Dockerfile and DockerContext")
    image_config = props.get("ImageConfig") or {}
    unsupported = set(image_config) - {"Command"}
    if unsupported:
        raise TemplateError(f"{logical_id}: ImageConfig {', '.join(sorted(unsupported))} is not emulated locally")
    command = image_config.get("Command")
    if not isinstance(command, list) or len(command) != 1 or "." not in str(command[0]):
        raise TemplateError(f"{logical_id}: ImageConfig Command must be [module.function] (the handler)")
    context_dir = (base_dir / context).resolve()
    code_dir, path_dirs = task_root_sources(context_dir / dockerfile, context_dir)
    return ImageCode(code_dir, path_dirs, str(command[0]))


def task_root_sources(dockerfile: Path, context_dir: Path) -> tuple[Path, tuple[Path, ...]]:
    """(the folder copied as the task root, the folders whose packages are copied beside it), read from the
    Dockerfile's WORKDIR and COPY instructions; other copies (build inputs) are not the task root's."""
    workdir: PurePosixPath | None = None
    code_dir: Path | None = None
    path_dirs: list[Path] = []
    for instruction, arguments in _instructions(dockerfile.read_text(encoding="utf-8")):
        if instruction == "WORKDIR":
            workdir = PurePosixPath(arguments)
        elif instruction == "COPY" and workdir is not None:
            words = shlex.split(arguments)
            if len(words) != 2 or any(w.startswith("--") for w in words):
                raise TemplateError(f"{dockerfile}: COPY {arguments!r}: only `COPY <source> <destination>` is read")
            source, destination = words
            target = PurePosixPath(destination) if destination.startswith("/") else workdir / destination
            source_path = (context_dir / source).resolve()
            if target == workdir:
                code_dir = source_path
            elif target.parent == workdir and target.name == source_path.name:
                path_dirs.append(source_path.parent)
    if code_dir is None:
        raise TemplateError(f"{dockerfile}: no `COPY <folder>/ ./` into the WORKDIR: no task root to run")
    return code_dir, tuple(path_dirs)


def _instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, its arguments) of a Dockerfile: comments dropped, continued lines joined."""
    found: list[tuple[str, str]] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        whole = (pending + line).strip()
        pending = ""
        instruction, _, arguments = whole.partition(" ")
        found.append((instruction.upper(), arguments.strip()))
    return found
