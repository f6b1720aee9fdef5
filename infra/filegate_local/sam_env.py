"""`make sam-local-env`: env.json for `sam local start-api` against the local stack's moto (docs/deploy.md "sam
local"). sam resolves `!Ref AccountsTable` to the logical id: this gives each function the names `make dev`
created and, in the template's `AWS_ENDPOINT_URL` (declared for this), where the containers reach moto."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from filegate_local.model import build_model
from filegate_local.template import Template


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--template", type=Path, default=Path("template.yaml"))
    parser.add_argument("--moto-endpoint", default="http://127.0.0.1:4566", help="moto as the containers reach it")
    parser.add_argument("--output", type=Path, default=Path("env.json"))
    args = parser.parse_args(argv)
    functions = build_model(Template(args.template, moto_endpoint=args.moto_endpoint)).functions  # make dev's names
    # {function logical id: {variable: value}}, the shape of `sam local --env-vars`
    environments = {name: {**fn.environment, "AWS_ENDPOINT_URL": args.moto_endpoint} for name, fn in functions.items()}
    args.output.write_text(json.dumps(environments, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {args.output}: {len(environments)} functions, AWS calls to {args.moto_endpoint}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
