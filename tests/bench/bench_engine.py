"""Benchmark the conversion engine against ImageMagick and naive Pillow on a 12-megapixel JPEG.

    python tests/bench/bench_engine.py [--runs N] [--megapixels 12]

Each measurement runs in a fresh process (as a Lambda cold-ish invocation would), N times; we print the
median wall time of the whole process, the median in-process work time (Python only: after imports), and
peak RSS (from wait4's rusage of that child). Then the engine's encoder settings trade-offs, in-process.
Prints figures only, no assertions.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "layers" / "common"))

TASKS = {
    "webp q80": ("webp", {"quality": 80}),
    "jpeg q80": ("jpg", {"quality": 80}),
    "resize 1600w (jpeg q80)": ("jpg", {"quality": 80, "width": 1600}),
}


# --------------------------------------------------------------------------- workers (child processes)


def _worker(impl: str, task: str, src: str, dst: str) -> None:
    import resource

    target, opts = TASKS[task]
    if impl == "engine":
        from filegate.conversion import ConversionOptions, EngineLimits, convert
        from filegate.tiers import TIERS

        start = time.perf_counter()
        data = Path(src).read_bytes()
        result = convert(data, target, ConversionOptions(**opts), EngineLimits.for_tier(TIERS["free"]))
        Path(dst).write_bytes(result.data)
    else:  # naive Pillow: open, (resize), save: what most hand-written converters do
        from PIL import Image

        start = time.perf_counter()
        image = Image.open(src)
        if "width" in opts:
            width = opts["width"]
            image = image.resize((width, round(image.height * width / image.width)), Image.Resampling.LANCZOS)
        image.save(dst, format="WEBP" if target == "webp" else "JPEG", quality=opts["quality"])
    work = time.perf_counter() - start
    print(json.dumps({"work": work, "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))


# --------------------------------------------------------------------------- driver


def _run(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, int, str]:
    """Wall seconds, peak RSS (KiB) of the child, and its stdout."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    _pid, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    out = proc.stdout.read().decode() if proc.stdout else ""
    err = proc.stderr.read().decode() if proc.stderr else ""
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd[0]} failed ({proc.returncode}): {err.strip()[:300]}")
    return wall, usage.ru_maxrss, out


def _imagemagick() -> list[str] | None:
    """The real ImageMagick CLI (magick for v7, convert for v6), never a stand-in script of the same name."""
    for name in ("magick", "convert"):
        for path in filter(None, {shutil.which(name), f"/usr/bin/{name}"}):
            if not os.path.exists(path):
                continue
            try:
                version = subprocess.run([path, "-version"], capture_output=True, text=True, timeout=10).stdout
            except (OSError, subprocess.TimeoutExpired):
                continue
            if "ImageMagick" in version and b"python" not in Path(path).read_bytes()[:64]:
                return [path]
    return None


def _im_cmd(magick: list[str], task: str, src: str, dst: str) -> list[str]:
    _target, opts = TASKS[task]
    cmd = [*magick, src]
    if "width" in opts:
        cmd += ["-resize", f"{opts['width']}x"]
    return [*cmd, "-quality", str(opts["quality"]), dst]


def _photo_jpeg(megapixels: float, path: Path) -> None:
    import fixtures_media as fm

    width = int((megapixels * 1e6 * 4 / 3) ** 0.5)
    height = int(width * 3 / 4)
    fm.photo(width, height).save(path, format="JPEG", quality=90)


def _self_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _jpeg_size(data: bytes) -> tuple[int, int]:
    """Width and height from a JPEG's SOF marker (no imaging import in the driver)."""
    i = 2
    while i < len(data):
        marker, length = data[i + 1], int.from_bytes(data[i + 2 : i + 4], "big")
        if marker in (0xC0, 0xC1, 0xC2):
            return int.from_bytes(data[i + 7 : i + 9], "big"), int.from_bytes(data[i + 5 : i + 7], "big")
        i += 2 + length
    return 0, 0


def _median(values: list[float]) -> float:
    return statistics.median(values)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--megapixels", type=float, default=12)
    parser.add_argument("--worker", nargs=4, metavar=("IMPL", "TASK", "SRC", "DST"))
    parser.add_argument("--make", nargs=2, metavar=("DST", "MEGAPIXELS"))
    args = parser.parse_args()
    if args.worker:
        _worker(*args.worker)
        return
    if args.make:
        _photo_jpeg(float(args.make[1]), Path(args.make[0]))
        return

    # The driver stays small and imports no imaging library before the runs: a forked child's peak RSS
    # starts at its parent's, so a big parent would inflate every figure. The input is made in a child too.
    tmp = Path(tempfile.mkdtemp(prefix="fg-bench-"))
    src = tmp / "photo.jpg"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "layers" / "common")}
    subprocess.run([sys.executable, __file__, "--make", str(src), str(args.megapixels)], check=True, env=env)
    size = _jpeg_size(src.read_bytes())
    pillow_version = subprocess.run(
        [sys.executable, "-c", "import PIL; print(PIL.__version__)"], capture_output=True, text=True
    ).stdout.strip()
    magick = _imagemagick()
    print(f"input: {size[0]}x{size[1]} JPEG ({size[0] * size[1] / 1e6:.1f} MP, {src.stat().st_size / 1e6:.1f} MB)")
    print(f"Pillow {pillow_version}; python {sys.version.split()[0]}; cpus {os.cpu_count()}; runs {args.runs}")
    if magick:
        version = subprocess.run([*magick, "-version"], capture_output=True, text=True).stdout.splitlines()[0]
        print(f"ImageMagick: {version}")
    else:
        print("ImageMagick: not installed (apt-get install -y imagemagick): its column is skipped")
    print()

    results: dict[tuple[str, str], dict[str, float]] = {}
    for task, (target, _opts) in TASKS.items():
        ext = "webp" if target == "webp" else "jpg"
        impls = ["engine", "pillow"] + (["imagemagick"] if magick else [])
        for impl in impls:
            walls, works, rss, sizes = [], [], [], []
            for run in range(args.runs):
                dst = tmp / f"{impl}-{run}.{ext}"
                if impl == "imagemagick":
                    assert magick is not None
                    wall, maxrss, _ = _run(_im_cmd(magick, task, str(src), str(dst)))
                    works.append(wall)
                else:
                    cmd = [sys.executable, __file__, "--worker", impl, task, str(src), str(dst)]
                    wall, maxrss, out = _run(cmd, env)
                    works.append(json.loads(out.strip().splitlines()[-1])["work"])
                walls.append(wall)
                rss.append(maxrss)
                sizes.append(dst.stat().st_size)
            results[(task, impl)] = {
                "wall": _median(walls),
                "work": _median(works),
                "rss_mb": max(rss) / 1024,
                "bytes": _median(sizes),
            }

    header = f"{'task':26} {'impl':12} {'wall s':>8} {'work s':>8} {'peak MB':>8} {'out KB':>8}"
    header += f" {'x IM speed':>10} {'IM mem /':>9}"
    print(f"(driver's own peak RSS, a floor for every figure: {_self_rss_mb():.0f} MB)")
    print(header)
    print("-" * len(header))
    for task in TASKS:
        base = results.get((task, "imagemagick"))
        for impl in ("engine", "pillow", "imagemagick"):
            r = results.get((task, impl))
            if r is None:
                continue
            speed = f"{base['wall'] / r['wall']:.2f}x" if base else "n/a"
            mem = f"{r['rss_mb'] / base['rss_mb']:.2f}" if base else "n/a"
            print(
                f"{task:26} {impl:12} {r['wall']:8.3f} {r['work']:8.3f} {r['rss_mb']:8.0f} "
                f"{r['bytes'] / 1024:8.0f} {speed:>10} {mem:>9}"
            )
        print()
    print("wall = whole fresh process (interpreter start, imports, decode, encode, write); work = in-process")
    print("after imports (ImageMagick: same as wall). x IM speed = ImageMagick wall / this wall (higher is")
    print("better); IM mem / = this peak RSS / ImageMagick's (lower is better).")
    print()
    _tradeoffs(src.read_bytes())
    shutil.rmtree(tmp, ignore_errors=True)


def _tradeoffs(data: bytes) -> None:
    """In-process settings the engine chose: WebP method, AVIF speed, JPEG draft on resize."""
    from PIL import Image

    def timed(fn, repeat: int = 3) -> tuple[float, int]:  # type: ignore[no-untyped-def]
        best, size = float("inf"), 0
        for _ in range(repeat):
            start = time.perf_counter()
            size = fn()
            best = min(best, time.perf_counter() - start)
        return best, size

    image = Image.open(io.BytesIO(data))
    image.load()

    def enc(fmt: str, **kw: object) -> int:
        buf = io.BytesIO()
        image.save(buf, format=fmt, **kw)
        return len(buf.getvalue())

    print(f"encoder trade-offs on the same {image.width}x{image.height} image (best of 3, in-process):")
    for method in (0, 2, 4, 6):
        secs, size = timed(lambda m=method: enc("WEBP", quality=80, method=m))
        print(f"  webp q80 method {method}: {secs:6.3f} s  {size / 1024:7.0f} KB")
    small = image.resize((1600, 1200))
    for speed in (4, 6, 8, 10):

        def avif(s: int = speed) -> int:
            buf = io.BytesIO()
            small.save(buf, format="AVIF", quality=60, speed=s)
            return len(buf.getvalue())

        secs, size = timed(avif, repeat=1)
        print(f"  avif q60 speed {speed:2} (1600x1200): {secs:6.3f} s  {size / 1024:7.0f} KB")
    for optimize in (False, True):
        secs, size = timed(lambda o=optimize: enc("JPEG", quality=80, optimize=o))
        print(f"  jpeg q80 optimize={optimize!s:5}: {secs:6.3f} s  {size / 1024:7.0f} KB")

    def resize(draft: bool) -> int:
        im = Image.open(io.BytesIO(data))
        if draft:
            im.draft(None, (1600, 1200))
        out = im.resize((1600, 1200), Image.Resampling.LANCZOS, reducing_gap=3.0 if draft else None)
        return out.width

    for draft in (False, True):
        secs, _ = timed(lambda d=draft: resize(d))
        print(f"  decode+resize to 1600 wide, draft={draft!s:5}: {secs:6.3f} s")


if __name__ == "__main__":
    main()
