"""Check a `sam build` output before it is deployed: right CPU, right Python, under Lambda's size limit.

    python infra/build_check.py .aws-sam/build

1. Every native file (ELF shared objects and executables) in every built function and layer must be built
   for the architecture the template declares (arm64 = ELF e_machine EM_AARCH64). A layer without
   `Metadata: BuildArchitecture: arm64` is silently built for x86_64 by SAM; this is what catches it.
   Wheels must carry a matching platform tag, and CPython extension modules must target the runtime's
   Python version (a module built for the build host's 3.11 would not import on python3.13).
2. Each function plus its layers must stay under Lambda's 250 MB unzipped limit. The sizes are printed.
3. Every module the handler imports, following our own modules (function code, `filegate`) transitively,
   must be found in the function, its layers, Python 3.13's standard library or the runtime's boto3:
   a third-party import that only the dev venv has would otherwise fail on the first cold start.

Container-image functions (`PackageType: Image`, the document function) are not checked here: their image
holds its own Python and packages, and is built only where Docker runs (`--list-images TEMPLATE` prints
their logical ids, which `make build` leaves out of `sam build` without Docker).

Exits 1 listing every offender. Standard library plus PyYAML (present in .venv and in SAM's own venv).
"""

from __future__ import annotations

import argparse
import ast
import os
import re
import struct
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

LAMBDA_UNZIPPED_LIMIT = 250 * 1024 * 1024  # function code + all its layers, unzipped (bytes)
WARN_FRACTION = 0.8  # say so when a function uses more than this share of the limit

ELF_MAGIC = b"\x7fELF"
# e_machine values (ELF spec) for the names we print.
E_MACHINE = {3: "x86", 8: "mips", 20: "ppc", 21: "ppc64", 22: "s390", 40: "arm", 62: "x86_64", 183: "aarch64"}
ARCH_MACHINE = {"arm64": 183, "x86_64": 62}
# Wheel platform tag fragments per Lambda architecture.
ARCH_WHEEL_TAG = {"arm64": "aarch64", "x86_64": "x86_64"}
NATIVE_SUFFIXES = (".so", ".pyd", ".dylib", ".dll")
SO_VERSIONED = re.compile(r"\.so(\.\d+)+$")
CPYTHON_EXT = re.compile(r"\.cpython-(\d)(\d+)[^.]*\.so$")
# Packages that ship a program rather than a library: package -> file name of the program.
BUNDLED_EXECUTABLES = {"imageio_ffmpeg": r"ffmpeg-linux-[\w-]+-v[\d.]+"}


# ------------------------------------------------------------------ template reading


class _CfnLoader(yaml.SafeLoader):
    """A YAML loader that accepts CloudFormation's short tags (!Ref, !GetAtt, !Sub …) as plain data."""


def _cfn_tag(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node) -> Any:
    name = "Ref" if tag_suffix == "Ref" else f"Fn::{tag_suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if tag_suffix == "GetAtt" and isinstance(value, str):
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


_CfnLoader.add_multi_constructor("!", _cfn_tag)


def load_template(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as f:
        data = yaml.load(f, Loader=_CfnLoader)  # noqa: S506 - a SafeLoader subclass
    if not isinstance(data, dict):
        raise SystemExit(f"{path}: not a template")
    return data


@dataclass
class Artifact:
    logical_id: str
    kind: str  # "function" or "layer"
    path: Path
    arch: str  # what the code must run on: the function's Architectures, the layer's CompatibleArchitectures
    build_arch: str  # what SAM built it for: for a layer, Metadata.BuildArchitecture (default x86_64)
    runtime: str | None
    layers: list[str] = field(default_factory=list)  # logical ids (functions only)
    handler: str | None = None
    external_layers: list[str] = field(default_factory=list)  # ARNs we cannot measure


def _layer_refs(value: Any) -> tuple[list[str], list[str]]:
    refs: list[str] = []
    external: list[str] = []
    for item in value or []:
        if isinstance(item, dict) and "Ref" in item:
            refs.append(str(item["Ref"]))
        else:
            external.append(str(item))
    return refs, external


def image_functions(template: dict[str, Any]) -> list[str]:
    """The logical ids of the template's container-image functions."""
    package_type = ((template.get("Globals") or {}).get("Function") or {}).get("PackageType")
    return [
        logical_id
        for logical_id, resource in (template.get("Resources") or {}).items()
        if resource.get("Type") == "AWS::Serverless::Function"
        and ((resource.get("Properties") or {}).get("PackageType") or package_type) == "Image"
    ]


def artifacts(build_dir: Path) -> list[Artifact]:
    """The built functions and layers, read from the template `sam build` writes into the build dir."""
    template_path = build_dir / "template.yaml"
    if not template_path.is_file():
        raise SystemExit(f"{template_path} is missing: run `sam build` first")
    template = load_template(template_path)
    glob = (template.get("Globals") or {}).get("Function") or {}
    resources: dict[str, Any] = template.get("Resources") or {}
    found: list[Artifact] = []
    images = image_functions(template)
    for logical_id, resource in resources.items():
        rtype = resource.get("Type")
        props = resource.get("Properties") or {}
        if rtype == "AWS::Serverless::Function":
            if logical_id in images:
                continue
            code_uri = props.get("CodeUri", glob.get("CodeUri"))
            archs = props.get("Architectures") or glob.get("Architectures") or ["x86_64"]
            # SAM globals: lists are additive, the global entries first.
            refs, external = _layer_refs(list(glob.get("Layers") or []) + list(props.get("Layers") or []))
            found.append(
                Artifact(
                    logical_id=logical_id,
                    kind="function",
                    path=build_dir / str(code_uri),
                    arch=str(archs[0]),
                    build_arch=str(archs[0]),
                    runtime=props.get("Runtime") or glob.get("Runtime"),
                    layers=refs,
                    external_layers=external,
                    handler=props.get("Handler") or glob.get("Handler"),
                )
            )
        elif rtype == "AWS::Serverless::LayerVersion":
            metadata = resource.get("Metadata") or {}
            # SAM builds for BuildArchitecture (default x86_64), whatever CompatibleArchitectures says.
            built = str(metadata.get("BuildArchitecture") or "x86_64")
            wanted = [str(a) for a in props.get("CompatibleArchitectures") or ["x86_64"]]
            # A makefile-built layer names its Python in CompatibleRuntimes.
            runtime = metadata.get("BuildMethod")
            if not str(runtime or "").startswith("python"):
                runtime = next(iter(props.get("CompatibleRuntimes") or []), None)
            found.append(
                Artifact(
                    logical_id=logical_id,
                    kind="layer",
                    path=build_dir / str(props.get("ContentUri")),
                    arch=wanted[0] if len(wanted) == 1 else built,
                    build_arch=built,
                    runtime=str(runtime) if runtime else None,
                )
            )
    return found


# ------------------------------------------------------------------ native code


def elf_machine(path: Path) -> int | None:
    """The ELF e_machine of a file, or None if it is not an ELF file."""
    try:
        with path.open("rb") as f:
            header = f.read(20)
    except OSError:
        return None
    if len(header) < 20 or header[:4] != ELF_MAGIC:
        return None
    endian = "<" if header[5] == 1 else ">"  # EI_DATA: 1 little-endian, 2 big-endian
    machine: int = struct.unpack_from(f"{endian}H", header, 18)[0]
    return machine


def walk_files(root: Path) -> Iterator[Path]:
    for dirpath, _dirnames, filenames in os.walk(root):
        for name in filenames:
            p = Path(dirpath) / name
            if not p.is_symlink():
                yield p


def python_tag(runtime: str | None) -> str | None:
    """'python3.13' -> '313'."""
    m = re.fullmatch(r"python(\d)\.(\d+)", runtime or "")
    return f"{m.group(1)}{m.group(2)}" if m else None


def check_native(art: Artifact, arch: str) -> tuple[list[str], int]:
    """Offenders in one artifact, and how many native files it holds."""
    want = ARCH_MACHINE[arch]
    py = python_tag(art.runtime)
    offenders: list[str] = []
    native = 0
    for p in walk_files(art.path):
        rel = p.relative_to(art.path)
        name = p.name
        machine = elf_machine(p)
        if machine is not None:
            native += 1
            if machine != want:
                got = E_MACHINE.get(machine, f"e_machine={machine}")
                offenders.append(f"{art.logical_id}: {rel} is built for {got}, not {E_MACHINE[want]}")
            m = CPYTHON_EXT.search(name)
            if m and py and m.group(1) + m.group(2) != py:
                offenders.append(
                    f"{art.logical_id}: {rel} is an extension for CPython {m.group(1)}.{m.group(2)}, "
                    f"the runtime is {art.runtime}"
                )
        elif name.endswith(NATIVE_SUFFIXES) or SO_VERSIONED.search(name):
            # A .so that is not ELF (a macOS Mach-O or a Windows DLL) cannot load on Lambda.
            with p.open("rb") as f:
                head = f.read(4)
            if head and not head.startswith(b"#") and not name.endswith(".py"):
                native += 1
                offenders.append(f"{art.logical_id}: {rel} is native code but not ELF")
        elif name == "WHEEL" and p.parent.name.endswith(".dist-info"):
            offenders.extend(_check_wheel_tags(art, p, arch))
    return offenders, native


def _check_wheel_tags(art: Artifact, wheel_file: Path, arch: str) -> list[str]:
    """A dist installed from a wheel for another platform (e.g. an sdist built on the x86_64 build host)."""
    tags = [
        line.split(":", 1)[1].strip()
        for line in wheel_file.read_text(encoding="utf-8", errors="replace").splitlines()
        if line.startswith("Tag:")
    ]
    platforms = {t.rsplit("-", 1)[-1] for t in tags if t.count("-") == 2}
    native = {p for p in platforms if p != "any"}
    if native and not any(ARCH_WHEEL_TAG[arch] in p for p in native):
        dist = wheel_file.parent.name.removesuffix(".dist-info")
        return [f"{art.logical_id}: {dist} was installed from a wheel for {', '.join(sorted(native))}"]
    return []


# ------------------------------------------------------------------ imports

# What the Lambda Python runtime itself provides besides the standard library.
RUNTIME_PROVIDED = frozenset({"boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six"})
# Removed from the standard library by Python 3.13 (PEP 594, lib2to3): present in 3.11, gone on Lambda.
REMOVED_IN_313 = frozenset(
    {
        "aifc", "audioop", "cgi", "cgitb", "chunk", "crypt", "imghdr", "lib2to3", "mailcap", "msilib",
        "nis", "nntplib", "ossaudiodev", "pipes", "sndhdr", "spwd", "sunau", "telnetlib", "uu", "xdrlib",
    }
)  # fmt: skip
STDLIB = frozenset(sys.stdlib_module_names) - REMOVED_IN_313


def _top_levels(root: Path) -> set[str]:
    """Importable top-level names in a sys.path entry: packages, modules, extension modules."""
    names: set[str] = set()
    if not root.is_dir():
        return names
    for entry in root.iterdir():
        if entry.is_dir() and not entry.name.endswith((".dist-info", ".egg-info", ".data")):
            names.add(entry.name)
        elif entry.suffix in (".py", ".so", ".pyc"):
            names.add(entry.name.split(".", 1)[0])
    return names


def _installed_by_pip(root: Path) -> set[str]:
    """Top-level names that some dist owns (third-party code: not followed, only looked up)."""
    owned: set[str] = set()
    for record in root.glob("*.dist-info/RECORD"):
        for line in record.read_text(encoding="utf-8", errors="replace").splitlines():
            first = line.split(",", 1)[0].split("/", 1)[0]
            if first and not first.endswith((".dist-info", ".data")) and first != "..":
                owned.add(first.removesuffix(".py").split(".", 1)[0])
    return owned


def _guarded(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    """Under `if TYPE_CHECKING:` or in a `try` that handles ImportError: not needed at run time."""
    child, parent = node, parents.get(node)
    while parent is not None:
        if isinstance(parent, ast.If) and child in parent.body and "TYPE_CHECKING" in ast.unparse(parent.test):
            return True
        if isinstance(parent, ast.Try) and child in parent.body:
            caught = " ".join(ast.unparse(h.type) for h in parent.handlers if h.type is not None)
            if (
                "ImportError" in caught
                or "ModuleNotFoundError" in caught
                or any(h.type is None for h in parent.handlers)
            ):
                return True
        child, parent = parent, parents.get(parent)
    return False


def _imports(source: Path, module: str, is_package: bool) -> Iterator[tuple[str, bool]]:
    """(absolute module name, lazy) for each import in a file; lazy = inside a function body."""
    tree = ast.parse(source.read_bytes(), filename=str(source))
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    package = module if is_package else module.rpartition(".")[0]

    def lazy(node: ast.AST) -> bool:
        parent = parents.get(node)
        while parent is not None:
            if isinstance(parent, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                return True
            parent = parents.get(parent)
        return False

    for node in ast.walk(tree):
        if isinstance(node, ast.Import) and not _guarded(node, parents):
            for alias in node.names:
                yield alias.name, lazy(node)
        elif isinstance(node, ast.ImportFrom) and not _guarded(node, parents):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1] if node.level > 1 else base
                prefix = ".".join(base)
                target = f"{prefix}.{node.module}" if node.module else prefix
            else:
                target = node.module or ""
            if target == "__future__":
                continue
            yield target, lazy(node)
            for alias in node.names:  # `from pkg import submodule`
                if alias.name != "*":
                    yield f"{target}.{alias.name}", lazy(node)


def check_imports(fn: Artifact, layers: list[Artifact]) -> tuple[list[str], list[str]]:
    """Imports reachable from the handler that nothing on Lambda's sys.path provides.

    Errors: reached through module-level imports only, so the cold start itself fails. Warnings: reached
    through an import inside a function (a deliberate lazy import), which fails only if that code runs.
    """
    roots = [fn.path]
    for layer in layers:
        roots += [layer.path / "python", *sorted(layer.path.glob("python/lib/python3*/site-packages"))]
    available: set[str] = set()
    third_party: set[str] = set()
    for root in roots:
        available |= _top_levels(root)
        third_party |= _installed_by_pip(root)

    def locate(module: str) -> tuple[Path, bool] | None:
        rel = module.replace(".", "/")
        for root in roots:
            if (root / rel / "__init__.py").is_file():
                return root / rel / "__init__.py", True
            if (root / f"{rel}.py").is_file():
                return root / f"{rel}.py", False
        return None

    handler_module = fn.handler.rpartition(".")[0] if fn.handler else ""
    if not handler_module or locate(handler_module) is None:
        return [f"{fn.logical_id}: handler module {handler_module or '?'!r} is not in the built function"], []

    # Breadth-first from the handler: `via` remembers who imported what, `eager` whether every step of the
    # chain was a module-level import. Eager modules are visited first so their chains are the eager ones.
    via: dict[str, str | None] = {handler_module: None}
    eager: dict[str, bool] = {handler_module: True}
    queue: list[str] = [handler_module]
    missing: list[str] = []
    while queue:
        queue.sort(key=lambda m: not eager[m])
        module = queue.pop(0)
        top = module.split(".", 1)[0]
        if top in third_party:
            continue  # pip installed it with its own dependencies
        found = locate(module)
        if found is None:
            if top in available or top in STDLIB or top in RUNTIME_PROVIDED or "." in module:
                continue  # present, or a name imported from a module, or a module we do not follow
            missing.append(module)
            continue
        path, is_package = found
        parts = module.split(".")
        edges = [(".".join(parts[:i]), False) for i in range(1, len(parts))]  # parent packages run first
        for name, is_lazy in [*edges, *_imports(path, module, is_package)]:
            strong = eager[module] and not is_lazy
            if name not in eager:
                via[name], eager[name] = module, strong
                queue.append(name)
            elif strong and not eager[name]:
                via[name], eager[name] = module, True  # upgrade: it is needed at import time after all
                queue.append(name)

    def chain(module: str) -> str:
        steps = [module]
        while (parent := via.get(steps[-1])) is not None:
            steps.append(parent)
        return " <- ".join(steps)

    errors: list[str] = []
    lazy_by_importer: dict[str, list[str]] = {}
    for module in sorted(set(missing)):
        if not eager[module]:
            lazy_by_importer.setdefault(str(via[module]), []).append(module)
            continue
        if module.split(".", 1)[0] in REMOVED_IN_313:
            what = "gone from Python 3.13's standard library"
        else:
            what = "in neither the function nor its layers"
        errors.append(f"{fn.logical_id}: {module!r} is {what} ({chain(module)})")
    warnings = [
        f"{fn.logical_id}: {chain(importer)} imports {', '.join(mods)}, in neither the function nor its layers"
        for importer, mods in sorted(lazy_by_importer.items())
    ]
    return errors, warnings


# ------------------------------------------------------------------ sizes


def check_bundled_executables(art: Artifact) -> list[str]:
    """Executables a package ships beside its code (FFmpeg in imageio-ffmpeg) must be there, runnable (mode
    bits survive pip and the zip), and the only one of their kind: a layer built with a second platform's
    binary as well would carry it as dead weight toward the size limit."""
    problems: list[str] = []
    for package, pattern in BUNDLED_EXECUTABLES.items():
        folder = art.path / "python" / package
        if not folder.is_dir():
            continue
        binaries = [p for p in walk_files(folder) if re.fullmatch(pattern, p.name)]
        if len(binaries) != 1:
            names = ", ".join(p.name for p in binaries) or "none"
            problems.append(f"{art.logical_id}: {package} should ship exactly one {pattern} binary, found {names}")
        for binary in binaries:
            if not os.access(binary, os.X_OK):
                problems.append(f"{art.logical_id}: {binary.relative_to(art.path)} is not executable")
    return problems


def tree_size(root: Path) -> int:
    return sum(p.stat().st_size for p in walk_files(root))


def mb(n: int) -> str:
    return f"{n / 1024 / 1024:.1f}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("build_dir", type=Path, nargs="?", default=Path(".aws-sam/build"))
    ap.add_argument("--limit-mb", type=float, default=LAMBDA_UNZIPPED_LIMIT / 1024 / 1024)
    ap.add_argument("--list-images", type=Path, metavar="TEMPLATE", help="print TEMPLATE's image functions and exit")
    args = ap.parse_args(argv)
    if args.list_images is not None:
        print(" ".join(image_functions(load_template(args.list_images))))
        return 0
    build_dir: Path = args.build_dir
    limit = int(args.limit_mb * 1024 * 1024)

    arts = artifacts(build_dir)
    if not arts:
        print(f"{build_dir}: no functions or layers in the built template", file=sys.stderr)
        return 1
    by_id = {a.logical_id: a for a in arts}
    problems: list[str] = []
    sizes: dict[str, int] = {}
    natives: dict[str, int] = {}

    for art in arts:
        if art.build_arch != art.arch:
            problems.append(
                f"{art.logical_id}: built for {art.build_arch} but declared for {art.arch}: "
                f"set `Metadata: BuildArchitecture: {art.arch}`"
            )
        if art.arch not in ARCH_MACHINE:
            problems.append(f"{art.logical_id}: unknown architecture {art.arch!r}")
            continue
        if not art.path.is_dir():
            problems.append(f"{art.logical_id}: {art.path} was not built")
            continue
        offenders, natives[art.logical_id] = check_native(art, art.arch)
        problems.extend(offenders)
        problems.extend(check_bundled_executables(art))
        sizes[art.logical_id] = tree_size(art.path)

    # Functions whose layers are built for another architecture than the function.
    for fn in (a for a in arts if a.kind == "function"):
        for ref in fn.layers:
            layer = by_id.get(ref)
            if layer is None:
                problems.append(f"{fn.logical_id}: layer {ref} is not a layer built by this template")
            elif layer.build_arch != fn.arch:
                problems.append(f"{fn.logical_id} ({fn.arch}) uses {ref}, built for {layer.build_arch}")

    # Every import the handler reaches is there on Lambda.
    notes: list[str] = []
    for fn in (a for a in arts if a.kind == "function" and a.path.is_dir()):
        errors, lazy_only = check_imports(fn, [by_id[r] for r in fn.layers if r in by_id])
        problems.extend(errors)
        notes += [f"warning: {line} (inside a function: fails only if that code runs)" for line in lazy_only]

    # The table.
    head = ("artifact", "kind", "arch", "native", "own MB", "+layers MB", "of 250")
    print(f"{head[0]:<28} {head[1]:<8} {head[2]:<8} {head[3]:>6} {head[4]:>8} {head[5]:>11} {head[6]:>7}")
    over: list[str] = []
    for art in sorted(arts, key=lambda a: (a.kind != "layer", a.logical_id)):
        own = sizes.get(art.logical_id)
        if own is None:
            continue
        if art.kind == "function":
            total = own + sum(sizes.get(r, 0) for r in art.layers)
            share = f"{100 * total / limit:.0f}%"
            layers = f"{mb(total):>11}"
            if total > limit:
                over.append(
                    f"{art.logical_id}: {mb(total)} MB with layers {', '.join(art.layers) or '-'} "
                    f"exceeds Lambda's {mb(limit)} MB unzipped limit"
                )
            elif total > WARN_FRACTION * limit:
                notes.append(f"warning: {art.logical_id} uses {share} of the unzipped limit")
            if art.external_layers:
                notes.append(
                    f"warning: {art.logical_id}: layers outside this template are not counted: "
                    f"{', '.join(art.external_layers)}"
                )
        else:
            layers, share = f"{'':>11}", ""
        print(
            f"{art.logical_id:<28} {art.kind:<8} {art.build_arch:<8} "
            f"{natives.get(art.logical_id, 0):>6} {mb(own):>8} {layers} {share:>7}"
        )
    problems.extend(over)
    if notes:
        print()
        for note in notes:
            print(note)

    if problems:
        print(f"\nbuild check FAILED ({len(problems)}):", file=sys.stderr)
        for p in problems:
            print(f"  - {p}", file=sys.stderr)
        return 1
    n_native = sum(natives.values())
    print(f"\nbuild check ok: {len(arts)} artifacts, {n_native} native files, all built for their architecture")
    return 0


if __name__ == "__main__":
    sys.exit(main())
