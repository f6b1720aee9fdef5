"""infra/build_check.py on an FFmpeg layer: its binary present once and executable (arch and size are the
generic checks every artifact gets)."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[4] / "infra"))
import build_check

BINARY = "ffmpeg-linux-aarch64-v9.0.2"


def _layer(root: Path, *names: str, mode: int = 0o755) -> build_check.Artifact:
    binaries = root / "python" / "imageio_ffmpeg" / "binaries"
    binaries.mkdir(parents=True)
    for name in names:
        (binaries / name).write_bytes(b"\x7fELF")
        (binaries / name).chmod(mode)
    return build_check.Artifact("FfmpegLayer", "layer", root, "arm64", "arm64", "python3.13")


def test_one_executable_binary_passes(tmp_path: Path) -> None:
    assert build_check.check_bundled_executables(_layer(tmp_path, BINARY)) == []


@pytest.mark.parametrize(
    ("names", "mode", "problem"),
    [((BINARY,), 0o644, "is not executable"), ((), 0o755, "found none"),
     ((BINARY, "ffmpeg-linux-x86_64-v9.0.2"), 0o755, "exactly one")],
)  # fmt: skip
def test_missing_extra_or_unrunnable_binaries_fail(
    tmp_path: Path, names: tuple[str, ...], mode: int, problem: str
) -> None:
    (message,) = build_check.check_bundled_executables(_layer(tmp_path, *names, mode=mode))
    assert problem in message
