"""The conversion engine against naive Pillow, ImageMagick and libvips (pyvips), task by task, on real photos.

    .venv/bin/python tests/bench/bench_engine.py [--runs 7] [--warm 20] [--tasks jpeg,webp,...] [--impls ...]

Source: a real photograph from a Debian wallpaper package, fetched at bench time with `apt-get download`
and cached under .bench-cache/ (gitignored). It is written as the inputs of the tasks: the whole 6028x3391
photo (20 MP) as a JPEG; cropped to 4:3 and resized to 12 MP (4000x3000) as a baseline JPEG, a progressive
JPEG, a PNG, a HEIC and a one-page PDF. The same quality settings for every implementation.

Cold: every measurement is a fresh process; implementations are interleaved within each round (so a load
spike on this shared machine hits all of them alike). Printed per task and implementation: median wall time
of the work (after imports) with its spread (min-max), peak RSS of the process, output bytes, and PSNR
against the reference pixels (the source, resized with Lanczos when the task resizes; for the wide-gamut
inputs, LittleCMS's sRGB conversion of it). Then the engine/libvips ratio per task: the work's wall and CPU,
the whole fresh process's wall and CPU (start-up and imports included), the output's size and PSNR.

Warm (`--warm SECONDS`, 0 to skip): two worker processes at once (this machine's two cores), each having
imported its implementation and converted once, convert the task's input over and over for SECONDS;
printed: images per second of the pair. ImageMagick, a process per image, runs as two loops of processes.
Figures only, never assertions.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / ".bench-cache"
WALLPAPER_PACKAGE = "lomiri-wallpapers-20.04"  # real high-resolution photographs (JPEG), ~11 MB
WALLPAPER_FILE = "Kleiber_by_Lukas_Baubkus.jpg"  # 6028x3391 photo of a bird
SIZE = (4000, 3000)
PDF_DPI = 150

# task: (input, target, options); inputs are the files prepare_inputs writes.
TASKS: dict[str, tuple[str, str, dict[str, int]]] = {
    "jpeg": ("jpg", "jpg", {"quality": 80}),
    "jpeg-20mp": ("20mp.jpg", "jpg", {"quality": 80}),
    "progressive": ("progressive.jpg", "jpg", {"quality": 80}),
    "progressive-1600": ("progressive.jpg", "jpg", {"quality": 80, "width": 1600}),
    "webp": ("jpg", "webp", {"quality": 80}),
    "avif": ("jpg", "avif", {"quality": 60}),
    "png-jpeg": ("png", "jpg", {"quality": 80}),
    "resize-1600": ("jpg", "jpg", {"quality": 80, "width": 1600}),
    "resize-20mp": ("20mp.jpg", "jpg", {"quality": 80, "width": 1600}),
    "heic-jpeg": ("heic", "jpg", {"quality": 80}),
    "p3-jpeg": ("p3.jpg", "jpg", {"quality": 80}),
    "adobe-jpeg": ("adobe.jpg", "jpg", {"quality": 80}),
    "adobe-1600": ("adobe.jpg", "jpg", {"quality": 80, "width": 1600}),
    "p3-heic": ("p3.heic", "jpg", {"quality": 80}),
    "p3-heic-1600": ("p3.heic", "jpg", {"quality": 80, "width": 1600}),
    "pdf-png": ("pdf", "png", {}),
}
IMPLS = ("engine", "pillow", "vips", "magick")
# Optional implementation (--impls ...,main): the engine as it is on the main branch (git archive into the cache),
# the "before" of this branch's changes; HEIC has no libvips baseline here, so main is its comparison.
MAIN_TREE = CACHE / "main-tree"
# Inputs that carry a wide-gamut ICC profile (tests/helpers/icc_profiles.py): the photo's pixels
# tagged as Display P3 or Adobe RGB, as phones and cameras send them (an iPhone: a Display P3 HEIC). Every
# implementation that manages colour converts them to sRGB; the reference is LittleCMS's conversion of the
# source pixels. (The libvips wheel's libheif has no HEVC decoder: libvips cannot read HEIC here.)
ICC_KINDS = {"p3.jpg": "display_p3", "adobe.jpg": "adobe_rgb", "p3.heic": "display_p3"}


# --------------------------------------------------------------------------- inputs


def _wallpaper() -> Path:
    """The photo, from the Debian package (downloaded once into the cache)."""
    target = CACHE / WALLPAPER_FILE
    if target.exists():
        return target
    CACHE.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["apt-get", "download", WALLPAPER_PACKAGE], cwd=tmp, check=True, capture_output=True)
        deb = next(Path(tmp).glob("*.deb"))
        subprocess.run(["dpkg-deb", "-x", str(deb), str(Path(tmp) / "x")], check=True)
        found = next((Path(tmp) / "x").rglob(WALLPAPER_FILE))
        shutil.copy(found, target)
    return target


def prepare_inputs() -> dict[str, Path]:
    from PIL import Image

    kinds = ("jpg", "png", "heic", "pdf", "progressive.jpg", *ICC_KINDS)
    paths = {kind: CACHE / f"source-12mp.{kind}" for kind in kinds}
    paths["20mp.jpg"] = CACHE / "source-20mp.jpg"
    reference = CACHE / "reference-12mp.png"
    references = {"reference": reference, "reference-20mp": CACHE / "reference-20mp.png"}
    references.update({f"reference-{kind}": CACHE / f"reference-12mp-{kind}.png" for kind in ICC_KINDS})
    if all(p.exists() for p in (*paths.values(), *references.values())):
        return {**paths, **references}
    photo = Image.open(_wallpaper()).convert("RGB")
    photo.save(references["reference-20mp"])
    photo.save(paths["20mp.jpg"], quality=92)
    # Centre-crop to 4:3, then 12 MP.
    w, h = photo.size
    crop_w = min(w, h * 4 // 3)
    crop_h = crop_w * 3 // 4
    left, top = (w - crop_w) // 2, (h - crop_h) // 2
    photo = photo.crop((left, top, left + crop_w, top + crop_h)).resize(SIZE, Image.Resampling.LANCZOS)
    photo.save(reference)
    photo.save(paths["jpg"], quality=92)
    photo.save(paths["progressive.jpg"], quality=92, progressive=True)
    photo.save(paths["png"], compress_level=6)
    import pillow_heif

    pillow_heif.from_pillow(photo).save(paths["heic"], quality=90)
    _prepare_icc(photo, paths, references)
    # One A4-ish page holding the photo at 300 dpi (as a scanned or exported document would).
    photo.save(paths["pdf"], format="PDF", resolution=300.0, quality=90)
    return {**paths, **references}


def _prepare_icc(photo: Any, paths: dict[str, Path], references: dict[str, Path]) -> None:
    import io

    import pillow_heif
    from PIL import ImageCms

    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from tests.helpers import icc_profiles

    for kind, maker in ICC_KINDS.items():
        profile = getattr(icc_profiles, maker)()
        if kind.endswith(".heic"):
            heif = pillow_heif.from_pillow(photo)
            heif.info["icc_profile"] = profile
            heif.save(paths[kind], quality=90)
        else:
            photo.save(paths[kind], quality=92, icc_profile=profile)
        source = ImageCms.ImageCmsProfile(io.BytesIO(profile))
        converted = ImageCms.profileToProfile(photo, source, ImageCms.createProfile("sRGB"))
        assert converted is not None
        converted.save(references[f"reference-{kind}"])


def _reference_of(kind: str) -> str:
    if kind in ICC_KINDS:
        return f"reference-{kind}"
    return "reference-20mp" if kind.startswith("20mp") else "reference"


# --------------------------------------------------------------------------- workers (child processes)


def _engine_path(impl: str) -> str:
    """Where the engine's package is imported from: this tree, or main's (both ahead of the editable install)."""
    return str((MAIN_TREE if impl == "main" else ROOT) / "layers" / "common")


def _export_main() -> None:
    shutil.rmtree(MAIN_TREE, ignore_errors=True)
    MAIN_TREE.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "main", "layers/common"], check=True, capture_output=True
    )
    subprocess.run(["tar", "-x", "-C", str(MAIN_TREE)], input=archive.stdout, check=True)


def _worker(impl: str, task: str, src: str, dst: str) -> None:
    kind, target, opts = TASKS[task]
    if impl in ("engine", "main"):
        sys.path.insert(0, _engine_path(impl))
        from filegate.engines.image.engine import convert
        from filegate.engines.image.limits import EngineLimits
        from filegate.formats.options import ImageOptions
        from filegate.tiers import TIERS

        start = _clock()
        result = convert(Path(src).read_bytes(), target, ImageOptions(**opts), EngineLimits.for_tier(TIERS["pro"]))
        Path(dst).write_bytes(result.data)
    elif impl == "pillow":
        start = _pillow(kind, target, opts, src, dst)
    elif impl == "vips":
        start = _vips(kind, target, opts, src, dst)
    else:
        raise SystemExit(f"unknown implementation {impl}")
    print(json.dumps({"work": time.perf_counter() - start[0], "cpu": time.process_time() - start[1]}))


def _clock() -> tuple[float, float]:
    """Wall time and this process's CPU time (every thread's): the start of the timed work."""
    return time.perf_counter(), time.process_time()


def _pillow(kind: str, target: str, opts: dict[str, int], src: str, dst: str) -> tuple[float, float]:
    """Naive Pillow: open, (resize), save: what a hand-written converter does."""
    from PIL import Image

    if kind.endswith("heic"):
        import pillow_heif

        pillow_heif.register_heif_opener()
    start = _clock()
    if kind == "pdf":
        import pypdfium2 as pdfium

        image = pdfium.PdfDocument(src)[0].render(scale=PDF_DPI / 72).to_pil()
    else:
        image = Image.open(src)
    if "width" in opts:
        width = opts["width"]
        image = image.resize((width, round(image.height * width / image.width)), Image.Resampling.LANCZOS)
    if target == "png":
        image.save(dst, format="PNG")
    else:
        fmt = {"jpg": "JPEG", "webp": "WEBP", "avif": "AVIF"}[target]
        image.convert("RGB").save(dst, format=fmt, quality=opts["quality"])
    return start


def _vips(kind: str, target: str, opts: dict[str, int], src: str, dst: str) -> tuple[float, float]:
    import pyvips

    # No operation cache, as in the engine: a server converting different files would get no hits from it,
    # while the warm loop, converting one file over and over, would be served from it.
    pyvips.cache_set_max(0)
    start = _clock()
    # A wide-gamut photo is converted to sRGB (libvips' own way: the thumbnail's export profile, icc_transform).
    to_srgb = {"export_profile": "srgb"} if kind in ICC_KINDS else {}
    if kind == "pdf":
        image = pyvips.Image.new_from_file(src, dpi=PDF_DPI)  # needs libvips built with PDFium or poppler
    elif "width" in opts:
        image = pyvips.Image.thumbnail(src, opts["width"], height=100_000, **to_srgb)
    else:
        image = pyvips.Image.new_from_file(src, access="sequential")
        if to_srgb:
            image = image.icc_transform("srgb", embedded=True)
    if image.hasalpha():
        image = image.flatten(background=255)
    if target == "jpg":
        image.jpegsave(dst, Q=opts["quality"], optimize_coding=True)
    elif target == "webp":
        image.webpsave(dst, Q=opts["quality"], effort=4)
    elif target == "avif":
        image.heifsave(dst, Q=opts["quality"], compression="av1", effort=1)  # effort 1 ≈ libavif speed 8
    else:
        image.pngsave(dst, compression=6)
    return start


def _magick_command(task: str, src: str, dst: str) -> list[str]:
    kind, _target, opts = TASKS[task]
    cmd = [_magick_binary() or "convert"]
    if kind == "pdf":
        cmd += ["-density", str(PDF_DPI)]
    cmd += [src + ("[0]" if kind == "pdf" else "")]
    if "width" in opts:
        cmd += ["-resize", f"{opts['width']}x"]
    if "quality" in opts:
        cmd += ["-quality", str(opts["quality"])]
    return [*cmd, dst]


def _magick_binary() -> str | None:
    """ImageMagick's command (7: magick; 6: convert), skipping any stand-in earlier on PATH."""
    for name in ("magick", "/usr/bin/magick", "/usr/bin/convert", "convert"):
        path = shutil.which(name)
        if path is None:
            continue
        probe = subprocess.run([path, "-version"], capture_output=True, text=True, check=False)
        if probe.returncode == 0 and "ImageMagick" in probe.stdout:
            return path
    return None


def _has_magick() -> bool:
    return _magick_binary() is not None


# --------------------------------------------------------------------------- driver


def _run(cmd: list[str]) -> tuple[str, int, float]:
    """The child's stdout, its peak RSS in MiB and its CPU seconds (from wait4: the parent's never count)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err)
        _pid, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if proc.returncode != 0:
            lines = err.read().decode(errors="replace").strip().splitlines()
            raise RuntimeError(lines[-1][:200] if lines else f"exit {proc.returncode}")
        return out.read().decode(), usage.ru_maxrss // 1024, usage.ru_utime + usage.ru_stime


def _measure(impl: str, task: str, src: Path, dst: Path) -> tuple[float, float, int, float, float]:
    """(work wall seconds, work CPU seconds, peak RSS in MiB, process wall, process CPU) of one fresh process:
    the work after imports, and the whole process from its start to its exit (start-up and imports too: what
    a cold Lambda or a sync child pays). ImageMagick's times are its whole process's."""
    if impl == "magick":
        start = time.perf_counter()
        _out, rss, cpu = _run(_magick_command(task, str(src), str(dst)))
        wall = time.perf_counter() - start
        return wall, cpu, rss, wall, cpu
    start = time.perf_counter()
    out, rss, process_cpu = _run([sys.executable, __file__, "--worker", impl, task, str(src), str(dst)])
    process_wall = time.perf_counter() - start
    timed = json.loads(out.strip().splitlines()[-1])
    return timed["work"], timed["cpu"], rss, process_wall, process_cpu


def _psnr(output: Path, reference: Path) -> float:
    """Computed in a child: a 12 MP comparison would grow this process, and children forked from it inherit
    its peak RSS as their starting high-water mark."""
    out, _rss, _cpu = _run([sys.executable, __file__, "--psnr", str(output), str(reference)])
    return float(out.strip().splitlines()[-1])


def _psnr_worker(output: Path, reference: Path) -> float:
    from PIL import Image, ImageChops, ImageStat

    if output.suffix == ".heic":
        import pillow_heif

        pillow_heif.register_heif_opener()
    out = Image.open(output).convert("RGB")
    ref = Image.open(reference).convert("RGB")
    if ref.size != out.size:
        ref = ref.resize(out.size, Image.Resampling.LANCZOS)
    stat = ImageStat.Stat(ImageChops.difference(out, ref))
    mse = sum(stat.sum2) / (3 * out.width * out.height)
    return math.inf if mse == 0 else 10 * math.log10(255 * 255 / mse)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--warm", type=float, default=20.0, help="seconds of the warm two-worker run; 0 skips it")
    parser.add_argument("--tasks", default=",".join(TASKS))
    parser.add_argument("--impls", default=",".join(IMPLS))
    args = parser.parse_args()
    tasks = args.tasks.split(",")
    impls = [i for i in args.impls.split(",") if i != "magick" or _has_magick()]
    if "magick" in args.impls and "magick" not in impls:
        print("ImageMagick is not installed (apt-get install imagemagick): skipped")
    _run([sys.executable, __file__, "--prepare"])  # in a child, for the same reason as _psnr
    if "main" in impls:
        _export_main()
    inputs = prepare_inputs()  # now only the cached paths
    print(f"source: {WALLPAPER_FILE} from Debian's {WALLPAPER_PACKAGE}; 12 MP = {SIZE[0]}x{SIZE[1]}; runs: {args.runs}")
    print(
        f"{'task':<12} {'impl':<7} {'median s':>9} {'min-max s':>13} {'CPU s':>6} {'RSS MiB':>8} {'bytes':>11} "
        f"{'PSNR dB':>8}"
    )
    medians: dict[tuple[str, str], float] = {}
    cpu_medians: dict[tuple[str, str], float] = {}
    process_medians: dict[tuple[str, str], tuple[float, float]] = {}
    outputs: dict[tuple[str, str], tuple[int, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for task in tasks:
            kind, target, _opts = TASKS[task]
            src = inputs[kind]
            times: dict[str, list[float]] = {i: [] for i in impls}
            cpus: dict[str, list[float]] = {i: [] for i in impls}
            process: dict[str, list[tuple[float, float]]] = {i: [] for i in impls}
            rss: dict[str, int] = {}
            failed: dict[str, str] = {}
            for _ in range(args.runs):
                for impl in impls:  # interleaved
                    if impl in failed:
                        continue
                    dst = Path(tmp) / f"{task}-{impl}.{target}"
                    try:
                        seconds, cpu, peak, process_wall, process_cpu = _measure(impl, task, src, dst)
                    except (RuntimeError, json.JSONDecodeError, IndexError) as exc:
                        failed[impl] = str(exc)[:60]
                        continue
                    times[impl].append(seconds)
                    cpus[impl].append(cpu)
                    process[impl].append((process_wall, process_cpu))
                    rss[impl] = max(rss.get(impl, 0), peak)
            for impl in impls:
                if impl in failed:
                    print(f"{task:<12} {impl:<7} n/a: {failed[impl]}")
                    continue
                dst = Path(tmp) / f"{task}-{impl}.{target}"
                median = statistics.median(times[impl])
                medians[(task, impl)] = median
                cpu_medians[(task, impl)] = statistics.median(cpus[impl])
                process_medians[(task, impl)] = (
                    statistics.median(w for w, _ in process[impl]),
                    statistics.median(c for _, c in process[impl]),
                )
                spread = f"{min(times[impl]):.3f}-{max(times[impl]):.3f}"
                psnr = _psnr(dst, inputs[_reference_of(kind)])
                outputs[(task, impl)] = (dst.stat().st_size, psnr)
                print(
                    f"{task:<12} {impl:<7} {median:>9.3f} {spread:>13} {cpu_medians[(task, impl)]:>6.3f} {rss[impl]:>8} "
                    f"{dst.stat().st_size:>11,} {psnr:>8.2f}"
                )
            sys.stdout.flush()
    print(
        "\nengine / libvips: median work time (<= 1.0: the engine is at least as fast), median CPU time of the work "
        "(every thread), the fresh process's wall and CPU from start to exit (start-up and imports too), output "
        "size, PSNR - PSNR"
    )
    for task in tasks:
        engine, vips = medians.get((task, "engine")), medians.get((task, "vips"))
        if not (engine and vips):
            print(f"  {task:<12} n/a (libvips could not run this task)")
            continue
        (engine_bytes, engine_psnr), (vips_bytes, vips_psnr) = outputs[(task, "engine")], outputs[(task, "vips")]
        (engine_wall, engine_cpu), (vips_wall, vips_cpu) = (
            process_medians[(task, "engine")],
            process_medians[(task, "vips")],
        )
        print(
            f"  {task:<12} time {engine / vips:.2f}  CPU {cpu_medians[(task, 'engine')] / cpu_medians[(task, 'vips')]:.2f}  "
            f"process wall {engine_wall / vips_wall:.2f}  process CPU {engine_cpu / vips_cpu:.2f}  "
            f"size {engine_bytes / vips_bytes:.3f}  "
            f"PSNR {engine_psnr - vips_psnr:+.2f} dB"
        )
    if "main" in impls:
        _main_ratios(tasks, medians, cpu_medians, process_medians)
    if args.warm > 0:
        _warm_table(tasks, impls, inputs, args.warm)


def _main_ratios(
    tasks: list[str],
    medians: dict[tuple[str, str], float],
    cpus: dict[tuple[str, str], float],
    process: dict[tuple[str, str], tuple[float, float]],
) -> None:
    print("\nengine / main's engine: work wall, work CPU, fresh process wall and CPU")
    for task in tasks:
        if (task, "engine") not in medians or (task, "main") not in medians:
            continue
        (engine_wall, engine_cpu), (main_wall, main_cpu) = process[(task, "engine")], process[(task, "main")]
        print(
            f"  {task:<12} time {medians[(task, 'engine')] / medians[(task, 'main')]:.2f}  "
            f"CPU {cpus[(task, 'engine')] / cpus[(task, 'main')]:.2f}  "
            f"process wall {engine_wall / main_wall:.2f}  process CPU {engine_cpu / main_cpu:.2f}"
        )


# --------------------------------------------------------------------------- warm workers

WARM_WORKERS = 2  # this machine's cores


def _warm_table(tasks: list[str], impls: list[str], inputs: dict[str, Path], seconds: float) -> None:
    print(f"\nwarm: {WARM_WORKERS} workers at once for {seconds:g} s each; images per second of the pair")
    # Ratios of time per image (the inverse of images per second): <= 1.0, the engine is at least as fast.
    baselines = [base for base in ("vips", "main") if base in impls]
    print(
        f"{'task':<12} "
        + " ".join(f"{impl:>8}" for impl in impls)
        + "".join(f" {'engine/' + b:>13}" for b in baselines)
    )
    for task in tasks:
        kind, target, _opts = TASKS[task]
        rates: dict[str, float] = {}
        with tempfile.TemporaryDirectory() as tmp:
            for impl in impls:
                try:
                    rates[impl] = _warm_rate(impl, task, inputs[kind], Path(tmp), target, seconds)
                except RuntimeError:
                    continue
        cells = " ".join(f"{rates[i]:>8.2f}" if i in rates else f"{'n/a':>8}" for i in impls)
        ratios = "".join(
            f" {rates[b] / rates['engine']:>13.2f}" if rates.get("engine") and rates.get(b) else f" {'n/a':>13}"
            for b in baselines
        )
        print(f"{task:<12} {cells}{ratios}")
        sys.stdout.flush()


def _warm_rate(impl: str, task: str, src: Path, tmp: Path, target: str, seconds: float) -> float:
    """Images per second of WARM_WORKERS processes converting at once (after a first, untimed conversion)."""
    if impl == "magick":
        return _magick_rate(task, src, tmp, target, seconds)
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--warm-worker",
                impl,
                task,
                str(src),
                str(tmp / f"w{n}.{target}"),
                str(seconds),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        for n in range(WARM_WORKERS)
    ]
    outputs = [p.communicate()[0].decode().strip().splitlines() for p in procs]
    if any(p.returncode != 0 or not out for p, out in zip(procs, outputs, strict=True)):
        raise RuntimeError(f"{impl} cannot run {task}")
    results = [json.loads(out[-1]) for out in outputs]
    return sum(r["count"] / r["seconds"] for r in results)


def _warm_worker(impl: str, task: str, src: str, dst: str, seconds: float) -> None:
    """Convert over and over for `seconds` after one untimed conversion (imports, caches)."""
    kind, target, opts = TASKS[task]
    if impl in ("engine", "main"):
        sys.path.insert(0, _engine_path(impl))
        from filegate.engines.image.engine import convert
        from filegate.engines.image.limits import EngineLimits
        from filegate.formats.options import ImageOptions
        from filegate.tiers import TIERS

        limits = EngineLimits.for_tier(TIERS["pro"])

        def once() -> None:
            Path(dst).write_bytes(convert(Path(src).read_bytes(), target, ImageOptions(**opts), limits).data)
    elif impl == "pillow":

        def once() -> None:
            _pillow(kind, target, opts, src, dst)
    else:

        def once() -> None:
            _vips(kind, target, opts, src, dst)

    once()
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        once()
        count += 1
    print(json.dumps({"count": count, "seconds": time.perf_counter() - start}))


def _magick_rate(task: str, src: Path, tmp: Path, target: str, seconds: float) -> float:
    counts = [0] * WARM_WORKERS
    failed: list[int] = []
    deadline = time.perf_counter() + seconds

    def loop(n: int) -> None:
        while time.perf_counter() < deadline:
            command = _magick_command(task, str(src), str(tmp / f"m{n}.{target}"))
            if subprocess.run(command, check=False, capture_output=True).returncode != 0:
                failed.append(n)
                return
            counts[n] += 1

    started = time.perf_counter()
    threads = [threading.Thread(target=loop, args=(n,)) for n in range(WARM_WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failed:
        raise RuntimeError(f"ImageMagick cannot run {task}")
    return sum(counts) / (time.perf_counter() - started)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        _worker(*sys.argv[2:6])
    elif len(sys.argv) > 1 and sys.argv[1] == "--warm-worker":
        _warm_worker(*sys.argv[2:6], float(sys.argv[6]))
    elif len(sys.argv) > 1 and sys.argv[1] == "--prepare":
        prepare_inputs()
    elif len(sys.argv) > 1 and sys.argv[1] == "--psnr":
        print(_psnr_worker(Path(sys.argv[2]), Path(sys.argv[3])))
    else:
        main()
