"""`filegate`: the command line over the SDK. `--json` on every command prints machine-readable output.

It needs rich, the SDK's `cli` extra (filegate_client.entry starts it). Exit codes: filegate_client.errors.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import os
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from rich.text import Text

from filegate_client import __version__
from filegate_client.client import ENV_API_KEY, ENV_BASE_URL, ConvertResult, FileGate, is_url
from filegate_client.errors import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    APIError,
    ConfigurationError,
    ConversionFailedError,
    FileGateError,
    ImportFailedError,
)
from filegate_client.types import NewKey

ENV_WEBHOOK_SECRET = "FILEGATE_WEBHOOK_SECRET"  # noqa: S105 - the variable's name
# Options of /v1/convert (docs/api.md §5), as (flag, type, help). Only those given are sent.
CONVERT_OPTIONS: tuple[tuple[str, Callable[[str], Any], str], ...] = (
    ("quality", int, "1-100"),
    ("width", int, "output width in pixels"),
    ("height", int, "output height in pixels"),
    ("fit", str, "contain or cover"),
    ("page", int, "PDF page, 1-based"),
    ("start", float, "media: trim start, seconds"),
    ("duration", float, "media: trim length, seconds"),
    ("fps", int, "video: frames per second, 1-60"),
    ("audio_bitrate", int, "media: kbps, 32-320"),
    ("at", float, "video thumbnail: second of the frame"),
    # The PDF tools (pdf → pdf): in the order they are applied.
    ("input_password", str, "PDF: the password that opens the input"),
    ("pages", str, 'PDF: keep these pages, in this order, e.g. "3,1-2"'),
    ("rotate", int, "PDF: turn pages 90, 180 or 270 degrees clockwise"),
    ("ocr_languages", str, 'PDF: Tesseract languages for --ocr, e.g. "eng+deu"'),
    ("password", str, "PDF: encrypt the output (AES-256)"),
)
# What compress takes for a PDF besides --quality.
PDF_COMPRESS_OPTIONS: tuple[tuple[str, Callable[[str], Any], str], ...] = (
    ("dpi", int, "PDF: downsample images to at most this many dpi (default 150)"),
    ("input_password", str, "PDF: the password that opens the input"),
    ("password", str, "PDF: encrypt the output (AES-256)"),
)

err = Console(stderr=True)


def _error(message: str) -> None:
    """An error line on stderr, as it is (no markup, no wrapping): whatever -q or --json say."""
    sys.stderr.write(f"error: {message}\n")
    sys.stderr.flush()


# ------------------------------------------------------------------ output helpers


def _print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, default=str) + "\n")


# Columns whose values are copied into other commands (`keys revoke ID`): never cut, never wrapped; the
# other columns wrap first when the terminal is narrow.
ID_COLUMNS = frozenset({"id", "key_id", "key_prefix", "file_id", "conversion_id", "source_file_id", "output_file_id"})


def _table(rows: Sequence[dict[str, Any]], columns: Sequence[str], title: str | None = None) -> None:
    cells = [["" if row.get(c) is None else _cell(row.get(c)) for c in columns] for row in rows]
    table = Table(title=title)
    for index, column in enumerate(columns):
        if column in ID_COLUMNS:
            widest = max((len(r[index]) for r in cells), default=0)
            table.add_column(column, no_wrap=True, min_width=max(widest, len(column)), overflow="ignore")
        else:
            table.add_column(column, overflow="fold")
    for row_cells in cells:
        table.add_row(*row_cells)
    Console().print(table)


def _cell(value: Any) -> str:
    if isinstance(value, list):
        return " ".join(str(v) for v in value)
    return str(value)


NO_API_KEY = f"no API key: pass --api-key KEY or set {ENV_API_KEY} (`filegate signup EMAIL` makes one)"
NO_BASE_URL = f"no API base URL: pass --base-url URL or set {ENV_BASE_URL} (or --local for the local stack)"


def _client(args: argparse.Namespace, *, needs_key: bool = True) -> FileGate:
    """The SDK's client for these options; a missing key or base URL is a usage error before anything is sent."""
    base_url = args.base_url or (f"http://127.0.0.1:{args.port}" if args.local else None)
    client = FileGate(api_key=args.api_key, base_url=base_url)
    if needs_key and not client.api_key:
        client.close()
        raise ConfigurationError(NO_API_KEY, missing="api_key")
    return client


# ------------------------------------------------------------------ convert and compress


@dataclass
class Outcome:
    source: str
    output: str | None
    ok: bool
    seconds: float
    detail: str
    result: ConvertResult | None = None
    error: dict[str, Any] | None = None


def _local_name(source: Path | str) -> Path:
    """A local file as given; a URL as the name its path ends with (outputs land in the current folder)."""
    if isinstance(source, Path):
        return source
    return Path(Path(unquote(urlsplit(source).path)).name or "import")


def _headers(values: Sequence[str] | None) -> dict[str, str]:
    """``--header 'Name: value'`` options (a private link's headers); malformed ones are usage errors."""
    headers: dict[str, str] = {}
    for value in values or ():
        name, sep, rest = value.partition(":")
        if not sep or not name.strip():
            raise ValueError(f"--header takes 'Name: value', got {name.strip() or value[:20]!r}")
        headers[name.strip()] = rest.strip()
    return headers


class AmountColumn(ProgressColumn):
    """Bytes while uploading or downloading; the job's percent while it converts (`bytes` field False)."""

    def __init__(self) -> None:
        super().__init__()
        self.bytes = DownloadColumn()

    def render(self, task: Task) -> Text:
        if task.fields.get("bytes", True):
            return self.bytes.render(task)
        return Text(f"{task.percentage:>3.0f} %" if task.total else "", style="progress.percentage")


def _output_path(args: argparse.Namespace, source: Path | str, target: str | None) -> Path:
    if args.output:
        return Path(args.output)
    local = _local_name(source)  # a URL's name has no folder: its output lands in the current one
    folder = Path(args.out_dir) if args.out_dir else local.parent
    if target is None:
        return folder / f"{local.stem}.compressed{local.suffix}"
    return folder / f"{local.stem}.{target}"


def _run_batch(args: argparse.Namespace, target: str | None) -> int:
    sources: list[Path | str] = [p if is_url(p) else Path(p) for p in args.inputs]
    if args.output and len(sources) > 1:
        _error("-o/--output takes one input; use --out-dir for several")
        return EXIT_USAGE
    if target is None and any(isinstance(s, str) for s in sources):
        _error("compress takes local files; convert a URL with `filegate convert URL --to FORMAT`")
        return EXIT_USAGE
    try:
        headers = _headers(getattr(args, "header", None))
    except ValueError as exc:
        _error(str(exc))
        return EXIT_USAGE
    missing = [str(s) for s in sources if isinstance(s, Path) and not s.is_file()]
    if missing:
        _error(f"no such file: {', '.join(missing)}")
        return EXIT_USAGE
    if args.out_dir:
        Path(args.out_dir).mkdir(parents=True, exist_ok=True)
    options = {name: getattr(args, name) for name, _, _ in CONVERT_OPTIONS if getattr(args, name, None) is not None}
    if getattr(args, "no_strip_metadata", False):
        options["strip_metadata"] = False
    if getattr(args, "mute", False):
        options["mute"] = True
    for flag in ("ocr", "pdf_a"):
        if getattr(args, flag, False):
            options[flag] = True
    if target is None:
        options = {n: getattr(args, n) for n, _, _ in PDF_COMPRESS_OPTIONS if getattr(args, n, None) is not None}
    client = _client(args)
    show = not args.json and not args.quiet
    progress = Progress(
        TextColumn("{task.fields[name]}", style="bold"),
        TextColumn("{task.fields[stage]}"),
        BarColumn(),
        AmountColumn(),
        TimeElapsedColumn(),
        console=err,
        disable=not show,
    )
    lock = threading.Lock()

    def one(source: Path | str) -> Outcome:
        size = source.stat().st_size if isinstance(source, Path) else None
        task: TaskID = progress.add_task("", name=_local_name(source).name, stage="queued", total=size)
        out = _output_path(args, source, target)

        def report(stage: str, done: int, total: int | None) -> None:
            with lock:
                if stage == "convert":  # the job's percent: the bar moves, the byte counts are hidden
                    progress.update(task, stage="converting", completed=done, total=total, bytes=False)
                elif stage == "download":
                    progress.update(task, stage="downloading", completed=done, total=total, bytes=True)
                else:
                    progress.update(task, stage="uploading", completed=done, total=total, bytes=True)

        started = time.monotonic()
        try:
            if target is None:
                result = client.compress(source, quality=args.quality, output=out, progress=report, **options)
            elif isinstance(source, str):  # a URL: the API imports and converts it as one job
                result = client.convert(source, target, output=out, progress=report, headers=headers, **options)
            else:
                result = client.convert(source, target, output=out, progress=report, **options)
        except FileGateError as exc:
            with lock:
                progress.update(task, stage="[red]failed")
            error = _error_json(exc)
            return Outcome(str(source), None, False, time.monotonic() - started, error["message"], error=error)
        with lock:
            progress.update(task, stage="[green]done", completed=result.size, total=result.size)
        return Outcome(str(source), str(out), True, time.monotonic() - started, result.mode, result=result)

    with progress, ThreadPoolExecutor(max_workers=max(1, args.parallel)) as pool:
        outcomes = list(pool.map(one, sources))
    client.close()
    failed = [o for o in outcomes if not o.ok]
    for o in failed:  # on stderr whatever else is asked (-q, --json): a failure is never silent
        _error(f"{o.source}: {(o.error or {}).get('code', 'failed')}: {o.detail}")
    if args.json:
        _print_json(
            [
                {
                    "input": o.source,
                    "output": o.output,
                    "ok": o.ok,
                    "seconds": round(o.seconds, 3),
                    "mode": o.detail if o.ok else None,
                    "conversion_id": o.result.conversion_id if o.result else None,
                    "size": o.result.size if o.result else None,
                    "error": o.error,
                }
                for o in outcomes
            ]
        )
    elif not args.quiet:
        table = Table(title=f"{len(outcomes) - len(failed)} of {len(outcomes)} converted")
        for column in ("input", "output", "result", "bytes", "seconds"):
            table.add_column(column)
        for o in outcomes:
            status = f"[green]{o.detail}" if o.ok else f"[red]{o.detail}"
            size = str(o.result.size) if o.result else ""
            table.add_row(o.source, o.output or "", status, size, f"{o.seconds:.2f}")
        Console().print(table)
    return EXIT_FAILED if failed else EXIT_OK


def cmd_convert(args: argparse.Namespace) -> int:
    return _run_batch(args, args.to.lower())


def cmd_compress(args: argparse.Namespace) -> int:
    return _run_batch(args, None)


def cmd_merge(args: argparse.Namespace) -> int:
    """One PDF of every input, in order (`filegate merge a.pdf b.jpg -o all.pdf`)."""
    missing = [name for name in args.inputs if not Path(name).is_file()]
    if missing:
        err.print(f"error: no such file: {', '.join(missing)}")
        return EXIT_USAGE
    if len(args.inputs) < 2:
        err.print("error: merge takes 2 to 100 files")
        return EXIT_USAGE
    started = time.monotonic()
    with _client(args) as client:
        try:
            result = client.merge(
                [Path(name) for name in args.inputs], output=args.output, page_size=args.page_size,
                password=args.password, timeout=args.timeout,
            )  # fmt: skip
        except FileGateError as exc:
            error = _error_json(exc)
            if args.json:
                _print_json({"inputs": args.inputs, "output": None, "ok": False, "error": error})
            else:
                err.print(f"[red]merge failed[/]: {error['code']}: {error['message']}")
            return EXIT_FAILED
    summary = {
        "inputs": args.inputs, "output": args.output, "ok": True, "mode": result.mode,
        "conversion_id": result.conversion_id, "size": result.size, "seconds": round(time.monotonic() - started, 3),
    }  # fmt: skip
    if args.json:
        _print_json(summary)
    elif not args.quiet:
        Console().print(f"{len(args.inputs)} files merged into {args.output} ({result.size} bytes, {result.mode})")
    return EXIT_OK


def cmd_import(args: argparse.Namespace) -> int:
    try:
        headers = _headers(args.header)
    except ValueError as exc:
        _error(str(exc))
        return EXIT_USAGE
    with _client(args) as client:
        file = client.import_url(args.url, filename=args.filename, headers=headers or None)
        if not args.no_wait:
            try:
                file = client.wait_for_file(file["id"], timeout=args.timeout)
            except ImportFailedError as exc:
                if args.json:
                    _print_json(exc.file)
                else:
                    err.print(f"[red]import failed[/]: {exc.code}: {exc.message}")
                return EXIT_FAILED
    if args.json:
        _print_json(file)
    else:
        Console().print(
            f"file {file.get('id')} · {file.get('status')} · {file.get('filename')}"
            + (f" · {file.get('format')} · {file.get('size')} bytes" if file.get("status") == "ready" else "")
        )
    return EXIT_OK


# ------------------------------------------------------------------ other commands


def cmd_formats(args: argparse.Namespace) -> int:
    if args.names:
        sys.stdout.write("".join(f"{name}\n" for name in target_names(args)))
        return EXIT_OK
    with _client(args, needs_key=False) as client:
        document = client.formats()
    if args.json:
        _print_json(document)
        return EXIT_OK
    rows = [
        {"from": name, "to": spec.get("to", []), "options": spec.get("options", [])}
        for name, spec in sorted(document.get("formats", {}).items())
    ]
    _table(rows, ["from", "to", "options"], title="Supported conversions")
    return EXIT_OK


FORMATS_CACHE_SECONDS = 24 * 3600


def _formats_cache(base_url: str) -> Path:
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "filegate"
    return root / f"formats-{hashlib.sha256(base_url.encode()).hexdigest()[:16]}.json"


def target_names(args: argparse.Namespace) -> list[str]:
    """Every target format (what `--to` takes), from GET /v1/formats, cached a day per base URL so that
    completing `--to <TAB>` does not wait on the network each time."""
    with _client(args, needs_key=False) as client:
        cache = _formats_cache(client.base_url)
        try:
            if time.time() - cache.stat().st_mtime < FORMATS_CACHE_SECONDS:
                return list(json.loads(cache.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            pass
        document = client.formats()
    names = sorted({t for spec in document.get("formats", {}).values() for t in spec.get("to", [])})
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps(names), encoding="utf-8")
    except OSError:
        pass  # no cache: the next completion asks again
    return names


def cmd_signup(args: argparse.Namespace) -> int:
    with _client(args, needs_key=False) as client:
        created = client.create_free_key(args.email)
    if args.json:
        _print_json(created)
    else:
        err.print(created.get("message", ""))
        sys.stdout.write(f"export {ENV_API_KEY}={created['api_key']}\n")
    return EXIT_OK


def cmd_whoami(args: argparse.Namespace) -> int:
    with _client(args) as client:
        me = client.entitlements()
    if args.json:
        _print_json(me)
        return EXIT_OK
    usage, limits, key = me.get("usage", {}), me.get("limits", {}), me.get("key", {})
    Console().print(
        f"account {me.get('account_id')} · tier [bold]{me.get('tier')}[/] · key {key.get('key_prefix')} "
        f"({' '.join(key.get('scopes', []))})\n"
        f"{usage.get('period')}: {usage.get('conversions')} conversions, {usage.get('remaining')} remaining · "
        f"{limits.get('requests_per_minute')} requests/minute"
    )
    return EXIT_OK


KEY_COLUMNS = ["id", "name", "key_prefix", "scopes", "created_at", "last_used_at", "expires_at", "revoked_at"]


def cmd_keys_list(args: argparse.Namespace) -> int:
    with _client(args) as client:
        keys = list(client.iter_keys())
    if args.json:
        _print_json(keys)
    else:
        _table(keys, KEY_COLUMNS, title="API keys")
    return EXIT_OK


def _print_new_key(args: argparse.Namespace, created: NewKey) -> None:
    if args.json:
        _print_json(created)
        return
    err.print(f"key {created.get('key_id')} ({created.get('name')}): save it, it will not be shown again")
    sys.stdout.write(f"{created['api_key']}\n")


def cmd_keys_create(args: argparse.Namespace) -> int:
    with _client(args) as client:
        created = client.create_key(
            args.name,
            scopes=args.scope,
            allowed_ips=args.allow_ip,
            expires_at=args.expires_at,
            mode="test" if args.test else None,
        )
    _print_new_key(args, created)
    return EXIT_OK


def cmd_keys_rotate(args: argparse.Namespace) -> int:
    with _client(args) as client:
        created = client.rotate_key(args.key_id, grace_seconds=args.grace)
    _print_new_key(args, created)
    return EXIT_OK


def cmd_keys_revoke(args: argparse.Namespace) -> int:
    with _client(args) as client:
        client.revoke_key(args.key_id)
    if args.json:
        _print_json({"id": args.key_id, "revoked": True})
    else:
        err.print(f"key {args.key_id} revoked")
    return EXIT_OK


ACTIVITY_COLUMNS = [
    "start", "requests", "succeeded", "client_errors", "refused", "rate_limited", "quota_exceeded", "conversions",
    "units",
]  # fmt: skip


def cmd_keys_activity(args: argparse.Namespace) -> int:
    with _client(args) as client:
        activity = client.key_activity(args.key_id, start=args.start, end=args.end, granularity=args.granularity)
    if args.json:
        _print_json(activity)
        return EXIT_OK
    hourly = activity["granularity"] == "hour"
    rows = [{**b, "start": b["start"][:16].replace("T", " ") if hourly else b["start"][:10]} for b in activity["data"]]
    _table(rows, ACTIVITY_COLUMNS, title=f"Key {activity['key_id']}, per {activity['granularity']} (UTC)")
    last = activity.get("last_used_at")
    err.print(f"last used {last} from {activity.get('last_used_ip')}" if last else "never used")
    return EXIT_OK


AUDIT_COLUMNS = ["at", "action", "target", "actor", "ip"]


def cmd_audit(args: argparse.Namespace) -> int:
    with _client(args) as client:
        entries = list(itertools.islice(client.iter_audit(page_size=min(args.limit, 100)), args.limit))
    if args.json:
        _print_json(entries)
    else:
        rows = [{**e, "actor": f"{e['actor']['type']} {e['actor']['label']}"} for e in entries]
        _table(rows, AUDIT_COLUMNS, title="Audit log (newest first)")
    return EXIT_OK


def cmd_usage(args: argparse.Namespace) -> int:
    with _client(args) as client:
        report = client.usage(from_month=args.from_month, to_month=args.to_month)
    if args.json:
        _print_json(report)
        return EXIT_OK
    console = Console()
    days = report.get("days", [])
    peak = max((int(d.get("conversions", 0)) for d in days), default=0)
    width = 40
    console.print(f"[bold]Conversions per day[/] ({report.get('from')} to {report.get('to')})")
    if not days:
        console.print("  none yet")
    for day in days:
        count = int(day.get("conversions", 0))
        bar = "█" * max(1, round(width * count / peak)) if count else ""
        console.print(f"  {day.get('date')}  [cyan]{bar:<{width}}[/] {count}")
    for month in report.get("months", []):
        console.print(f"  {month.get('month')} total: {month.get('conversions')}")
    return EXIT_OK


def cmd_webhooks_listen(args: argparse.Namespace) -> int:
    """Receive this account's webhooks on 127.0.0.1 (the local stack delivers to loopback over http).

    Registers an endpoint pointing here, verifies each delivery with the account's current signing secret
    (never rotating it), prints it, forwards it (same body and headers) to --forward-to if given, and
    deletes the endpoint it registered on exit, Ctrl-C included.
    """
    from filegate_client.listen import listen

    client = _client(args)
    secret = args.secret or os.environ.get(ENV_WEBHOOK_SECRET)
    if not secret:
        # The account's current secret (never a rotation: its receivers verify with it); a new one only when
        # the account has none yet.
        current = client.get_webhook_secret()
        if current is None:
            secret = client.create_webhook_secret()["secret"]
            err.print(f"created the account's signing secret {secret[:12]}…")
        else:
            secret = current["secret"]

    def show(event: dict[str, Any]) -> None:
        if args.json:
            sys.stdout.write(json.dumps(event) + "\n")
            sys.stdout.flush()
        else:
            state = "[green]verified" if event["verified"] else "[red]NOT verified"
            forwarded = f" → {event['forwarded_status']}" if event.get("forwarded_status") is not None else ""
            Console().print(f"{event['type']} {event['message_id']} {state}{forwarded}")

    with client:
        return listen(
            client,
            secret,
            port=args.listen_port,
            forward_to=args.forward_to,
            events=args.event,
            max_events=args.max_events,
            send_test=args.test,
            on_event=show,
            on_ready=lambda url, hook: err.print(f"listening on {url} as webhook {hook['id']}; Ctrl-C stops"),
        )


CONVERSION_COLUMNS = ["id", "status", "target", "progress", "source_file_id", "output_file_id", "created_at", "error"]
FILE_COLUMNS = ["id", "status", "filename", "format", "size", "created_at", "expires_at"]


def _conversion_row(job: dict[str, Any]) -> dict[str, Any]:
    error = job.get("error") or {}
    return {**job, "error": error.get("code") if isinstance(error, dict) else error}


def _show_one(args: argparse.Namespace, item: dict[str, Any], columns: Sequence[str], title: str) -> None:
    if args.json:
        _print_json(item)
    else:
        _table([{"field": c, "value": item.get(c)} for c in columns], ["field", "value"], title=title)


def cmd_conversions_list(args: argparse.Namespace) -> int:
    with _client(args) as client:
        jobs = list(itertools.islice(client.iter_conversions(page_size=min(args.limit, 100)), args.limit))
    if args.json:
        _print_json(jobs)
    else:
        _table([_conversion_row(j) for j in jobs], CONVERSION_COLUMNS, title="Conversions (newest first)")
    return EXIT_OK


def cmd_conversions_get(args: argparse.Namespace) -> int:
    with _client(args) as client:
        job = client.get_conversion(args.conversion_id)
    _show_one(args, _conversion_row(dict(job)) if not args.json else dict(job), CONVERSION_COLUMNS, "Conversion")
    return EXIT_OK


def cmd_conversions_wait(args: argparse.Namespace) -> int:
    """Wait for a job; exit 0 when it succeeded, 1 when it failed (its error on stderr)."""
    with _client(args) as client:
        try:
            job = client.wait_for_conversion(args.conversion_id, timeout=args.timeout)
        except ConversionFailedError as exc:
            if args.json:
                _print_json(exc.conversion)
            raise
    _show_one(args, dict(job), CONVERSION_COLUMNS, "Conversion")
    return EXIT_OK


def cmd_files_list(args: argparse.Namespace) -> int:
    with _client(args) as client:
        files = list(itertools.islice(client.iter_files(page_size=min(args.limit, 100)), args.limit))
    if args.json:
        _print_json(files)
    else:
        _table(files, FILE_COLUMNS, title="Files (newest first)")
    return EXIT_OK


def cmd_files_get(args: argparse.Namespace) -> int:
    with _client(args) as client:
        file = client.get_file(args.file_id)
    _show_one(args, dict(file), FILE_COLUMNS, "File")
    return EXIT_OK


def cmd_files_download(args: argparse.Namespace) -> int:
    with _client(args) as client:
        output = (
            Path(args.output)
            if args.output
            else Path(str(client.get_file(args.file_id).get("filename") or args.file_id))
        )
        client.download_file(args.file_id, output)
    if args.json:
        _print_json({"id": args.file_id, "output": str(output)})
    else:
        err.print(f"file {args.file_id} saved as {output}")
    return EXIT_OK


def cmd_files_delete(args: argparse.Namespace) -> int:
    with _client(args) as client:
        client.delete_file(args.file_id)
    if args.json:
        _print_json({"id": args.file_id, "deleted": True})
    else:
        err.print(f"file {args.file_id} deleted")
    return EXIT_OK


def cmd_completion(args: argparse.Namespace) -> int:
    sys.stdout.write(completion_script(build_parser(), args.shell))
    return EXIT_OK


# ------------------------------------------------------------------ parser and completion


def _add_batch_arguments(command: argparse.ArgumentParser) -> None:
    command.add_argument("inputs", nargs="+", metavar="IN", help="files (or https:// URLs, for convert) to convert")
    where = command.add_mutually_exclusive_group()
    where.add_argument("-o", "--output", help="output file (one input only)")
    where.add_argument("--out-dir", help="folder for the outputs (default: beside each input)")
    command.add_argument("--parallel", type=int, default=4, help="files at once (default 4)")
    command.add_argument("-q", "--quiet", action="store_true", help="no progress bars or summary")


def _global_options(parser: argparse.ArgumentParser, *, defaults: bool) -> None:
    """The options every command takes. They go before or after the command (like the AWS CLI): the top
    parser holds the defaults, a command's copy only what was given there (argparse.SUPPRESS otherwise)."""

    def default(value: object) -> object:
        return value if defaults else argparse.SUPPRESS

    parser.add_argument("--api-key", default=default(None), help=f"API key (default: ${ENV_API_KEY})")
    parser.add_argument("--base-url", default=default(None), help=f"API base URL (default: ${ENV_BASE_URL})")
    parser.add_argument(
        "--local", action="store_true", default=default(False), help="use the local stack (make dev) on 127.0.0.1"
    )
    parser.add_argument("--port", type=int, default=default(3000), help="the local stack's port with --local (3000)")
    parser.add_argument("--json", action="store_true", default=default(False), help="machine-readable JSON on stdout")


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    _global_options(common, defaults=False)

    parser = argparse.ArgumentParser(prog="filegate", description="FileGate file conversion from the command line.")
    parser.add_argument("--version", action="version", version=f"filegate {__version__}")
    _global_options(parser, defaults=True)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    convert = commands.add_parser("convert", parents=[common], help="convert files to another format")
    _add_batch_arguments(convert)
    convert.add_argument("--to", required=True, metavar="FORMAT", help="target format (see `filegate formats`)")
    for name, kind, text in CONVERT_OPTIONS:
        convert.add_argument(f"--{name.replace('_', '-')}", dest=name, type=kind, default=None, help=text)
    convert.add_argument("--no-strip-metadata", action="store_true", help="keep the input's metadata")
    convert.add_argument("--mute", action="store_true", help="video: drop the audio")
    convert.add_argument("--ocr", action="store_true", help="PDF: a searchable text layer over scanned pages")
    convert.add_argument("--pdf-a", dest="pdf_a", action="store_true", help="PDF: make it PDF/A-2b")
    convert.add_argument(
        "--header", action="append", metavar="'NAME: VALUE'", help="a URL input's private-link header (repeatable)"
    )
    convert.set_defaults(func=cmd_convert)

    imported = commands.add_parser("import", parents=[common], help="import a file from a URL into your files")
    imported.add_argument("url", metavar="URL", help="the https:// URL of the file")
    imported.add_argument("--filename", help="the file's name (default: the URL's last path segment)")
    imported.add_argument(
        "--header", action="append", metavar="'NAME: VALUE'", help="a private link's header, e.g. Authorization"
    )
    imported.add_argument("--no-wait", action="store_true", help="return at once, while the file is importing")
    imported.add_argument("--timeout", type=float, default=900.0, help="seconds to wait for the import")
    imported.set_defaults(func=cmd_import)

    compress = commands.add_parser("compress", parents=[common], help="same format, smaller bytes")
    _add_batch_arguments(compress)
    compress.add_argument("--quality", type=int, default=None, help="1-100")
    for name, kind, text in PDF_COMPRESS_OPTIONS:
        compress.add_argument(f"--{name.replace('_', '-')}", dest=name, type=kind, default=None, help=text)
    compress.set_defaults(func=cmd_compress)

    merge = commands.add_parser(
        "merge", parents=[common], help="merge PDFs, images and documents into one PDF, in order"
    )
    merge.add_argument("inputs", nargs="+", metavar="FILE", help="2 to 100 files: PDFs, images and documents")
    merge.add_argument("-o", "--output", required=True, help="the merged PDF")
    merge.add_argument("--page-size", choices=("a4", "letter"), default=None, help="fit images to this page size")
    merge.add_argument("--password", default=None, help="encrypt the merged PDF (AES-256)")
    merge.add_argument("--timeout", type=float, default=1800.0, help="seconds to wait for a merge job")
    merge.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")
    merge.set_defaults(func=cmd_merge)

    formats = commands.add_parser("formats", parents=[common], help="the supported conversions")
    formats.add_argument("--names", action="store_true", help="only the target formats, one a line (cached a day)")
    formats.set_defaults(func=cmd_formats)
    signup = commands.add_parser("signup", parents=[common], help="create a free account and key")
    signup.add_argument("email")
    signup.set_defaults(func=cmd_signup)
    commands.add_parser("whoami", parents=[common], help="tier, key, limits and usage").set_defaults(func=cmd_whoami)

    keys = commands.add_parser("keys", help="manage API keys")
    key_commands = keys.add_subparsers(dest="keys_command", required=True, metavar="ACTION")
    key_commands.add_parser("list", parents=[common], help="list keys").set_defaults(func=cmd_keys_list)
    create = key_commands.add_parser("create", parents=[common], help="create a key (printed once)")
    create.add_argument("name")
    create.add_argument("--scope", action="append", default=None, help="a scope (repeat); default as the API")
    create.add_argument("--allow-ip", action="append", default=None, help="an allowed IP or CIDR (repeat)")
    create.add_argument("--expires-at", default=None, help="ISO-8601 time")
    create.add_argument("--test", action="store_true", help="a sandbox fg_test_ key")
    create.set_defaults(func=cmd_keys_create)
    rotate = key_commands.add_parser("rotate", parents=[common], help="rotate a key (default: this one)")
    rotate.add_argument("key_id", nargs="?", default=None)
    rotate.add_argument("--grace", type=int, default=0, help="seconds the old key keeps working (0-86400)")
    rotate.set_defaults(func=cmd_keys_rotate)
    revoke = key_commands.add_parser("revoke", parents=[common], help="revoke a key at once")
    revoke.add_argument("key_id")
    revoke.set_defaults(func=cmd_keys_revoke)
    activity = key_commands.add_parser(
        "activity", parents=[common], help="a key's requests by outcome, per hour or day (default: the last 24 h)"
    )
    activity.add_argument("key_id")
    activity.add_argument("--from", dest="start", default=None, metavar="ISO-TIME", help="start (default: 24 h ago)")
    activity.add_argument("--to", dest="end", default=None, metavar="ISO-TIME", help="end (default: now)")
    activity.add_argument("--granularity", choices=["hour", "day"], default=None, help="bucket size (default hour)")
    activity.set_defaults(func=cmd_keys_activity)

    webhooks = commands.add_parser("webhooks", help="webhook tools")
    hook_commands = webhooks.add_subparsers(dest="webhooks_command", required=True, metavar="ACTION")
    listen = hook_commands.add_parser("listen", parents=[common], help="receive webhooks here (local testing)")
    listen.add_argument("--forward-to", default=None, metavar="URL", help="POST each delivery on to this URL")
    listen.add_argument("--listen-port", type=int, default=0, help="port on 127.0.0.1 (default: any free)")
    listen.add_argument(
        "--secret", default=None, help=f"signing secret (default ${ENV_WEBHOOK_SECRET}, else the account's current one)"
    )
    listen.add_argument("--event", action="append", default=None, help="event type to subscribe (repeat)")
    listen.add_argument("--max-events", type=int, default=None, help="exit after this many deliveries")
    listen.add_argument("--test", action="store_true", help="send a webhook.test event once listening")
    listen.set_defaults(func=cmd_webhooks_listen)

    conversions = commands.add_parser("conversions", help="conversion jobs: list, get, wait")
    job_commands = conversions.add_subparsers(dest="conversions_command", required=True, metavar="ACTION")
    listed = job_commands.add_parser("list", parents=[common], help="the account's conversions, newest first")
    listed.add_argument("--limit", type=int, default=20, help="how many (default 20)")
    listed.set_defaults(func=cmd_conversions_list)
    got = job_commands.add_parser("get", parents=[common], help="one conversion")
    got.add_argument("conversion_id")
    got.set_defaults(func=cmd_conversions_get)
    wait = job_commands.add_parser("wait", parents=[common], help="wait until a conversion ends (exit 1: failed)")
    wait.add_argument("conversion_id")
    wait.add_argument("--timeout", type=float, default=1800.0, help="seconds to wait (default 1800)")
    wait.set_defaults(func=cmd_conversions_wait)

    files = commands.add_parser("files", help="your files: list, get, download, delete")
    file_commands = files.add_subparsers(dest="files_command", required=True, metavar="ACTION")
    listed = file_commands.add_parser("list", parents=[common], help="the account's files, newest first")
    listed.add_argument("--limit", type=int, default=20, help="how many (default 20)")
    listed.set_defaults(func=cmd_files_list)
    got = file_commands.add_parser("get", parents=[common], help="one file and its metadata")
    got.add_argument("file_id")
    got.set_defaults(func=cmd_files_get)
    download = file_commands.add_parser("download", parents=[common], help="save a file here")
    download.add_argument("file_id")
    download.add_argument("-o", "--output", default=None, help="where to save it (default: its file name)")
    download.set_defaults(func=cmd_files_download)
    delete = file_commands.add_parser("delete", parents=[common], help="delete a file now")
    delete.add_argument("file_id")
    delete.set_defaults(func=cmd_files_delete)

    audit = commands.add_parser("audit", parents=[common], help="the account's audit log, newest first")
    audit.add_argument("--limit", type=int, default=50, help="how many entries (default 50)")
    audit.set_defaults(func=cmd_audit)
    usage = commands.add_parser("usage", parents=[common], help="conversions per day, as a bar chart")
    usage.add_argument("--from", dest="from_month", default=None, metavar="YYYY-MM")
    usage.add_argument("--to", dest="to_month", default=None, metavar="YYYY-MM")
    usage.set_defaults(func=cmd_usage)

    completion = commands.add_parser("completion", help="print a shell completion script")
    completion.add_argument("shell", choices=["bash", "zsh", "fish"])
    completion.set_defaults(func=cmd_completion, json=False)
    return parser


def _helps(parser: argparse.ArgumentParser) -> dict[str, str]:
    """Each subcommand's one-line help."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return {a.dest: str(a.help or "") for a in action._choices_actions}
    return {}


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _flags(parser: argparse.ArgumentParser) -> list[str]:
    return sorted(f for a in parser._actions for f in a.option_strings)


def _fish_script(parser: argparse.ArgumentParser) -> str:
    """fish completions built from the parser: commands, their actions, their flags, formats after --to."""
    lines = ["# filegate fish completion: filegate completion fish | source", "complete -c filegate -f"]
    top = _subcommands(parser)
    names = " ".join(top)
    for flag in _flags(parser):
        if flag.startswith("--"):
            lines.append(f"complete -c filegate -n 'not __fish_seen_subcommand_from {names}' -l {flag[2:]}")
    helps = _helps(parser)
    for name, sub in top.items():
        helped = helps.get(name, "").replace("'", "")
        lines.append(f"complete -c filegate -n 'not __fish_seen_subcommand_from {names}' -a {name} -d '{helped}'")
        children = _subcommands(sub)
        parsers = children.values() if children else [sub]
        if children:
            child_names = " ".join(children)
            for child in children:
                seen = f"__fish_seen_subcommand_from {name}; and not __fish_seen_subcommand_from {child_names}"
                lines.append(f"complete -c filegate -n '{seen}' -a {child}")
        flags = sorted({f for p in parsers for f in _flags(p) if f.startswith("--") and f != "--to"})
        for flag in flags:
            lines.append(f"complete -c filegate -n '__fish_seen_subcommand_from {name}' -l {flag[2:]}")
        if name in ("convert", "compress"):
            lines.append(f"complete -c filegate -n '__fish_seen_subcommand_from {name}' -F")  # input files
    lines.append(
        "complete -c filegate -n '__fish_seen_subcommand_from convert' -l to -x "
        "-a '(filegate (string match -q -- \"*--local*\" (commandline) && echo --local) formats --names 2>/dev/null)'"
    )
    return "\n".join(lines) + "\n"


def completion_script(parser: argparse.ArgumentParser, shell: str) -> str:
    """A completion script built from the parser itself: bash (zsh loads it through bashcompinit) or fish."""
    if shell == "fish":
        return _fish_script(parser)
    cases: list[str] = []
    top = _subcommands(parser)
    for name, sub in top.items():
        children = _subcommands(sub)
        if children:
            cases.append(f'        "{name}") words_="{" ".join(children)}" ;;')
            for child_name, child in children.items():
                cases.append(f'        "{name} {child_name}") words_="{" ".join(_flags(child))}" ;;')
        else:
            choices = " ".join(str(c) for a in sub._actions if not a.option_strings and a.choices for c in a.choices)
            cases.append(f'        "{name}") words_="{" ".join(_flags(sub))} {choices}" ;;')
    body = "\n".join(cases)
    script = f"""# filegate {shell} completion: eval "$(filegate completion {shell})"
_filegate_complete() {{
    local cur="${{COMP_WORDS[COMP_CWORD]}}" key="" words_=""
    local i
    for ((i = 1; i < COMP_CWORD; i++)); do
        case "${{COMP_WORDS[i]}}" in -*) ;; *) key="${{key:+$key }}${{COMP_WORDS[i]}}" ;; esac
    done
    case "$key" in
        "") words_="{" ".join(top)}" ;;
{body}
        *) ;;
    esac
    # After --to: the API's target formats (GET /v1/formats, cached a day by `filegate formats --names`).
    if [[ "${{COMP_WORDS[COMP_CWORD-1]}}" == "--to" && "$key" == convert* ]]; then
        local local_=""
        [[ " ${{COMP_WORDS[*]}} " == *" --local "* ]] && local_="--local"
        COMPREPLY=($(compgen -W "$(filegate $local_ formats --names 2>/dev/null)" -- "$cur"))
        return
    fi
    # A key that ends in a positional (a file, a key id) keeps the command's flags on offer.
    if [[ -z "$words_" ]]; then
        case "$key" in convert*|compress*) words_="{" ".join(_flags(top["convert"]))}" ;; esac
    fi
    if [[ "$cur" == -* || ( -n "$words_" && "$key" != convert* && "$key" != compress* ) ]]; then
        COMPREPLY=($(compgen -W "$words_" -- "$cur"))
    else
        COMPREPLY=($(compgen -f -- "$cur"))
    fi
}}
"""
    if shell == "zsh":
        script += "autoload -U +X bashcompinit && bashcompinit\n"
    return script + "complete -o filenames -F _filegate_complete filegate\n"


def _error_json(exc: BaseException) -> dict[str, Any]:
    if isinstance(exc, APIError):
        return {"status": exc.status, "code": exc.code, "message": exc.message, "request_id": exc.request_id}
    code = getattr(exc, "code", type(exc).__name__)
    return {"code": str(code), "message": str(exc)}


def _config_message(exc: ConfigurationError) -> str:
    """A missing key or base URL said with the command line's flags and variables, not the SDK's arguments."""
    return {"api_key": NO_API_KEY, "base_url": NO_BASE_URL}.get(exc.missing, str(exc))


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.func(args)
    except ConfigurationError as exc:
        _error(_config_message(exc))
        return EXIT_USAGE
    except (FileGateError, TimeoutError) as exc:
        # On stderr always (-q and --json too); --json also puts it on stdout for scripts.
        _error(str(exc))
        if getattr(args, "json", False) and not isinstance(exc, ConversionFailedError):
            _print_json({"error": _error_json(exc)})
        return EXIT_FAILED
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
