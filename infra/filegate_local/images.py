"""A container-image function (`PackageType: Image`) run like a zip function, without Docker: its handler is
`ImageConfig.Command`, its code what the Dockerfile copies into the task root (WORKDIR), from the source tree.
Its system and Python packages are the machine's and the venv's (`make system-packages`, `make venv`)."""

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
    try:
        if set(props["ImageConfig"]) != {"Command"}:
            raise ValueError(f"ImageConfig {sorted(props['ImageConfig'])}")
        (handler,) = props["ImageConfig"]["Command"]
        context_dir = (base_dir / metadata["DockerContext"]).resolve()
        code_dir, path_dirs = task_root_sources(context_dir / metadata["Dockerfile"], context_dir)
    except (KeyError, TypeError, ValueError) as exc:
        message = "needs Metadata Dockerfile and DockerContext, ImageConfig only Command: [module.function]"
        raise TemplateError(f"{logical_id}: an Image function {message} ({exc!r})") from exc
    return ImageCode(code_dir, path_dirs, handler)


def task_root_sources(dockerfile: Path, context_dir: Path) -> tuple[Path, tuple[Path, ...]]:
    """(the folder copied as the task root: `COPY <folder>/ ./`, the folders of packages copied beside it: `COPY
    <folder>/<name> ./<name>`), from WORKDIR and the COPYs after it (those before it are build inputs)."""
    workdir: PurePosixPath | None = None
    code_dir: Path | None = None
    path_dirs: list[Path] = []
    for instruction, arguments in re.findall(r"^(WORKDIR|COPY)\s+(.*)$", dockerfile.read_text("utf-8"), re.M):
        words = arguments.split()
        if instruction == "WORKDIR":
            workdir = PurePosixPath(arguments.strip())
        elif workdir is not None and (len(words) != 2 or words[0].startswith("--")):
            raise TemplateError(f"{dockerfile}: COPY {arguments!r}: only `COPY <source> <destination>` is read")
        elif workdir is not None:
            source, target = (context_dir / words[0]).resolve(), workdir / words[1]  # absolute: not in workdir
            if target == workdir:
                code_dir = source
            elif target.parent == workdir and target.name == source.name:
                path_dirs.append(source.parent)
    if code_dir is None:
        raise TemplateError(f"{dockerfile}: no `COPY <folder>/ ./` into the WORKDIR: no task root to run")
    return code_dir, tuple(path_dirs)
