"""A container-image function (`PackageType: Image`) run like a zip function, without Docker.

Lambda starts the image's runtime interface client with `ImageConfig.Command` as the handler, in the image's
`WORKDIR` (the task root). Locally the handler runs in a worker (filegate_local.runtime), with what the
Dockerfile copies into the task root put on the path straight from the source tree: `COPY <folder>/ ./` is
the code directory, `COPY <folder>/<name> ./<name>` (a package beside the handler) puts `<folder>` on the
path, as a layer. The image's system and Python packages are the machine's and the venv's (`make
system-packages`, `make venv`, from the same lists). Anything else fails loudly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from filegate_local.template import TemplateError


@dataclass(frozen=True)
class ImageCode:
    code_dir: Path
    path_dirs: tuple[Path, ...]
    handler: str


def image_code(logical_id: str, props: dict[str, Any], metadata: dict[str, Any], base_dir: Path) -> ImageCode:
    """The code of the image function `logical_id` (its resolved properties and Metadata)."""
    dockerfile, context, config = metadata.get("Dockerfile"), metadata.get("DockerContext"), props.get("ImageConfig")
    command = config.get("Command") if isinstance(config, dict) and set(config) == {"Command"} else None
    if not isinstance(dockerfile, str) or not isinstance(context, str):
        raise TemplateError(f"{logical_id}: an Image function needs Metadata Dockerfile and DockerContext")
    if not isinstance(command, list) or len(command) != 1 or "." not in str(command[0]):
        raise TemplateError(f"{logical_id}: ImageConfig must be only Command: [module.function] (the handler)")
    context_dir = (base_dir / context).resolve()
    return ImageCode(*task_root_sources(context_dir / dockerfile, context_dir), str(command[0]))


def task_root_sources(dockerfile: Path, context_dir: Path) -> tuple[Path, tuple[Path, ...]]:
    """(the folder copied as the task root, the folders whose packages are copied beside it), from the
    Dockerfile's WORKDIR and the COPY instructions after it (copies before it are build inputs)."""
    workdir: PurePosixPath | None = None
    code_dir: Path | None = None
    path_dirs: list[Path] = []
    for instruction, arguments in re.findall(r"^(WORKDIR|COPY)\s+(.*)$", dockerfile.read_text("utf-8"), re.M):
        if instruction == "WORKDIR":
            workdir = PurePosixPath(arguments.strip())
        if instruction != "COPY" or workdir is None:
            continue
        words = arguments.split()
        if len(words) != 2 or words[0].startswith("--"):
            raise TemplateError(f"{dockerfile}: COPY {arguments!r}: only `COPY <source> <destination>` is read")
        source, target = (context_dir / words[0]).resolve(), workdir / words[1]  # an absolute one replaces workdir
        if target == workdir:
            code_dir = source
        elif target.parent == workdir and target.name == source.name:
            path_dirs.append(source.parent)
    if code_dir is None:
        raise TemplateError(f"{dockerfile}: no `COPY <folder>/ ./` into the WORKDIR: no task root to run")
    return code_dir, tuple(path_dirs)
