"""`filegate-local` / `python -m filegate_local`: run the local stack until Ctrl-C or SIGTERM."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from pathlib import Path

from filegate_local.stack import LocalStack, StackConfig
from filegate_local.template import TemplateError


def _pair(value: str) -> tuple[str, str]:
    name, sep, setting = value.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected Name=Value, got {value!r}")
    return name, setting


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="filegate-local", description="template.yaml on moto server, no Docker.")
    parser.add_argument("--port", type=int, default=3000, help="API port (default 3000; 0 = any free port)")
    parser.add_argument("--moto-port", type=int, default=4566, help="moto server port (default 4566)")
    parser.add_argument("--template", type=Path, default=Path("template.yaml"))
    parser.add_argument("--state-dir", type=Path, default=Path(".local-stack"))
    parser.add_argument("--stack-name", default="filegate-local")
    parser.add_argument("--workers-per-function", type=int, default=4, help="warm workers per function")
    parser.add_argument("--param", action="append", type=_pair, default=[], dest="parameters", help="Name=Value")
    parser.add_argument("--env", action="append", type=_pair, default=[], dest="environment", help="NAME=VALUE")
    parser.add_argument("--no-echo-logs", action="store_false", dest="echo_logs", help="function logs to files only")
    options = vars(parser.parse_args(argv))
    logging.basicConfig(level="INFO", format="%(asctime)s %(levelname)-7s %(name)s: %(message)s", datefmt="%H:%M:%S")
    logging.getLogger("botocore").setLevel(logging.WARNING)
    logging.getLogger("urllib3").setLevel(logging.WARNING)
    options.update(parameters=dict(options["parameters"]), environment=dict(options["environment"]), echo_mail=True)
    config = StackConfig(**options | {"workers_per_function": max(1, options["workers_per_function"])})
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())
    signal.signal(signal.SIGINT, lambda signum, frame: stop.set())
    stack = LocalStack(config)
    try:
        stack.start()
    except (TemplateError, RuntimeError, OSError) as exc:
        print(f"filegate-local: {exc}", file=sys.stderr)  # start() has stopped what it started
        return 1
    url = stack.url
    print(
        f"\nFileGate local stack '{config.stack_name}' is up.\n"
        f"  API   {url}   (stage {stack.state['stage']}, api id {stack.state['api_id']})\n"
        f"  moto  {stack.moto_url}\n  state {stack.state_file}   logs {stack.log_dir}/\n\n"
        "Get a free key (shown once; keep it as KEY):\n"
        f"  curl -s -X POST {url}/v1/keys/free -H 'Content-Type: application/json' "
        '-d \'{"email":"you@example.com"}\'\n'
        "Convert a file with it (an image, PDF, audio, video or document up to 4 MB):\n"
        f'  curl -s -X POST {url}/v1/convert -H "Authorization: Bearer $KEY" '
        "-F file=@photo.png -F target=webp -o photo.webp\n"
        "Or with the command line (a document: Word, Excel, PowerPoint, ODF, RTF, text):\n"
        f"  FILEGATE_API_KEY=$KEY .venv/bin/filegate --base-url {url} convert report.docx --to pdf\n"
        f"The dashboard: open {url}/dashboard and type an email; the code it sends is printed here.\n\n"
        "Ctrl-C stops everything.\n",
        file=sys.stderr,
        flush=True,
    )
    stop.wait()  # a signal's handler runs, and sets it, while the main thread waits
    print("filegate-local: stopping...", file=sys.stderr, flush=True)
    stack.stop()
    # Everything is stopped and closed. Skip the interpreter's teardown of boto3, cfn-lint and their
    # modules: seconds on a busy machine, during which `make dev` could not be started again.
    logging.shutdown()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
