"""filegate-admin: create accounts, change an account's tier or status, inspect an account, revoke its keys.

Global options (``--local``, ``--env``, …) go before or after the subcommand, like the AWS CLI's.
Against AWS it finds the stack from samconfig.toml (``--env``) and reads the table names and API id from
the stack's outputs; with ``--local`` it reads them from the running local stack's state file. Tier and
status changes apply on the next request, exactly as key changes do: they are versioned and stamped on the
account's counters for as long as the API's authorizer cache TTL (a stack parameter).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tomllib
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from filegate_local.state import read_state, state_file

REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Target:
    outputs: dict[str, str]
    region: str
    environ: dict[str, str]  # endpoint overrides for the local stack; empty for AWS
    parameters: dict[str, str]  # the stack's parameters (AuthorizerCacheTtl: how long a change is stamped for)

    def output(self, name: str) -> str:
        try:
            return self.outputs[name]
        except KeyError:
            raise SystemExit(
                f"filegate-admin: the stack has no output {name!r}; deploy the current template."
            ) from None


def _samconfig(path: Path, env: str) -> dict[str, Any]:
    if not path.exists():
        raise SystemExit(f"filegate-admin: {path} not found; pass --stack-name and --region.")
    config = tomllib.loads(path.read_text())
    section = config.get(env, {})
    params: dict[str, Any] = {}
    for command in ("global", "deploy"):
        params.update(section.get(command, {}).get("parameters", {}))
    return params


def aws_target(stack_name: str | None, region: str | None, env: str, samconfig: Path) -> Target:
    if stack_name is None or region is None:
        params = _samconfig(samconfig, env)
        stack_name = stack_name or params.get("stack_name")
        region = region or params.get("region") or os.environ.get("AWS_REGION") or "us-east-1"
    if not stack_name:
        raise SystemExit("filegate-admin: no stack name (samconfig.toml or --stack-name).")
    import boto3

    stacks = boto3.client("cloudformation", region_name=region).describe_stacks(StackName=stack_name)["Stacks"]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}
    parameters = {p["ParameterKey"]: p.get("ParameterValue", "") for p in stacks[0].get("Parameters", [])}
    return Target(outputs=outputs, region=region, environ={}, parameters=parameters)


def local_target(state_dir: Path) -> Target:
    state = read_state(state_dir)
    if state is None:
        raise SystemExit(f"filegate-admin: {state_file(state_dir)} not found; is the local stack running (make dev)?")
    environ = {
        "AWS_ENDPOINT_URL": state["moto_endpoint"],
        "AWS_ENDPOINT_URL_API_GATEWAY": state["gateway_endpoint"],
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }
    parameters = {k: str(v) for k, v in state.get("parameters", {}).items()}
    return Target(
        outputs=state["outputs"], region=state.get("region", "us-east-1"), environ=environ, parameters=parameters
    )


def _bind(target: Target) -> None:
    os.environ.update(target.environ)
    os.environ.setdefault("AWS_DEFAULT_REGION", target.region)
    from filegate.db import bind_tables
    from filegate.settings import KeysSettings

    bind_tables(
        KeysSettings(
            aws_region=target.region,
            accounts_table=target.output("AccountsTableName"),
            keys_table=target.output("KeysTableName"),
            counters_table=target.output("CountersTableName"),
            emails_table=target.output("EmailsTableName"),
            audit_table=target.output("AuditTableName"),  # every change an operator makes is recorded
        )
    )
    from filegate.db import bind
    from filegate.db.secret_scanning import ScanningRecord

    bind(ScanningRecord, target.output("SecretScanningTableName"), target.region)  # import-github-keys


def _cache_horizon(target: Target) -> timedelta:
    """How long the API may serve a cached authorizer answer: what a change is stamped for."""
    return timedelta(seconds=int(target.parameters.get("AuthorizerCacheTtl") or 3600))


# Past this, the workstation's clock is reported (the service's time is used either way).
CLOCK_SKEW_WARNING_SECONDS = 30


def service_now() -> datetime:
    """The service's time (DynamoDB's), not this machine's: a revoke stamped from a laptop minutes ahead
    would leave the key valid, one minutes behind would leave windows unstamped. Truncated to the second,
    so never ahead of the service: a revoke "now" is already past for every function that reads it."""
    from filegate.clock import utcnow
    from filegate.db import accounts

    said = accounts.service_time()
    skew = (utcnow() - said).total_seconds()
    if abs(skew) > CLOCK_SKEW_WARNING_SECONDS:
        print(f"filegate-admin: this machine's clock is {skew:+.0f} s off AWS's; using AWS's time.", file=sys.stderr)
    return said


def _operate(args: argparse.Namespace, target: Target) -> dict[str, Any]:
    from filegate.accounts import service as account_service
    from filegate.audit import service as audit

    now = service_now()
    operator = audit.admin_actor()
    if args.command == "create-account":
        account_id, issued = account_service.create_account_for_operator(args.email, args.tier, now, actor=operator)
        return {"account_id": account_id, "tier": args.tier, **issued.as_json()}
    if args.command == "show-account":
        return account_service.account_overview(args.account_id, now)
    if args.command == "import-github-keys":
        return _import_github_keys(Path(args.file), now)
    # Every other command changes what keys may do: it is stamped for as long as answers may be cached.
    horizon = _cache_horizon(target)
    if args.command == "set-tier":
        account_service.set_account_tier(args.account_id, args.tier, now=now, horizon=horizon, actor=operator)
        return {"account_id": args.account_id, "tier": args.tier}
    if args.command == "set-status":
        account_service.set_account_status(args.account_id, args.status, now=now, horizon=horizon, actor=operator)
        return {"account_id": args.account_id, "status": args.status}
    if args.command == "revoke-keys":
        revoked = account_service.revoke_all_keys(args.account_id, now=now, horizon=horizon, actor=operator)
        return {"account_id": args.account_id, "revoked_key_ids": revoked}
    raise SystemExit(f"filegate-admin: unknown command {args.command!r}")


def _import_github_keys(path: Path, now: Any) -> dict[str, Any]:
    """Store GitHub's secret-scanning meta document by hand (tests, closed networks)."""
    from filegate.db import secret_scanning
    from filegate.secret_scanning.github_keys import parse_meta

    try:
        keys = parse_meta(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise SystemExit(f"filegate-admin: {path}: {exc}") from None
    secret_scanning.store_meta(((k.identifier, k.pem, k.is_current) for k in keys), now)
    return {"stored": len(keys), "key_identifiers": [k.identifier for k in keys]}


def run(args: argparse.Namespace) -> dict[str, Any]:
    target = (
        local_target(Path(args.state_dir))
        if args.local
        else aws_target(args.stack_name, args.region, args.env, Path(args.samconfig))
    )
    _bind(target)
    from filegate import errors

    try:
        return _operate(args, target)
    except errors.ApiError as exc:
        raise SystemExit(f"filegate-admin: {exc.code}: {exc.message}") from None


# Options every command takes: (flags, argparse keywords). The main parser holds their defaults; each
# subcommand accepts them too, with SUPPRESS as default so a value given before the subcommand survives.
GLOBAL_OPTIONS: list[tuple[tuple[str, ...], dict[str, Any]]] = [
    (("--local",), {"action": "store_true", "default": False, "help": "act on the running local stack (make dev)"}),
    (("--state-dir",), {"default": str(REPO_ROOT / ".local-stack"), "help": "the local stack's state dir"}),
    (("--env",), {"default": "default", "help": "samconfig.toml environment (default, dev, prod)"}),
    (("--samconfig",), {"default": str(REPO_ROOT / "samconfig.toml")}),
    (("--stack-name",), {"default": None, "help": "override samconfig's stack name"}),
    (("--region",), {"default": None, "help": "override samconfig's region"}),
]


def _global_options(parser: argparse.ArgumentParser, *, with_defaults: bool) -> None:
    group = parser.add_argument_group("global options")
    for flags, keywords in GLOBAL_OPTIONS:
        group.add_argument(*flags, **(keywords if with_defaults else {**keywords, "default": argparse.SUPPRESS}))


def parser() -> argparse.ArgumentParser:
    from filegate.tiers import ACCOUNT_STATUSES, TIERS

    p = argparse.ArgumentParser(prog="filegate-admin", description=__doc__.split("\n\n")[0])
    _global_options(p, with_defaults=True)
    sub = p.add_subparsers(dest="command", required=True)

    def command(name: str, help: str) -> argparse.ArgumentParser:
        parsed = sub.add_parser(name, help=help, description=help)
        _global_options(parsed, with_defaults=False)
        return parsed

    create = command("create-account", "create an account and print its first key (JSON)")
    create.add_argument("email")
    create.add_argument("--tier", choices=list(TIERS), default="free")
    tier = command("set-tier", "change an account's tier")
    tier.add_argument("account_id")
    tier.add_argument("tier", choices=list(TIERS))
    status = command("set-status", "suspend or reactivate an account")
    status.add_argument("account_id")
    status.add_argument("status", choices=list(ACCOUNT_STATUSES))
    show = command("show-account", "an account's tier, status, keys (prefix, last use) and this month's usage")
    show.add_argument("account_id")
    revoke = command("revoke-keys", "revoke every key of an account at once (a leaked key, a closed account)")
    revoke.add_argument("account_id")
    github = command("import-github-keys", "store GitHub's secret-scanning public keys from a meta document (JSON)")
    github.add_argument("file", help='a file like GitHub\'s {"public_keys": [{"key_identifier", "key", ...}]}')
    return p


def main(argv: list[str] | None = None) -> int:
    result = run(parser().parse_args(argv))
    json.dump(result, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
