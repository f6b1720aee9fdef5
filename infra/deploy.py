"""`make deploy` / `make deploy-prod`: `sam deploy` with few questions (docs/deploy.md).

The environment (dev or prod) picks the stack, stage and every other parameter from samconfig.toml; this asks
only what cannot have a default: the address mail to people comes from (a verified SES identity) and who the
alarms email. The answers are remembered per environment in samconfig.local.toml (not committed), and can be
given as EMAIL_SENDER and ALARM_EMAIL instead (for CI).

`sam deploy --parameter-overrides` replaces samconfig's list rather than adding to it, so the list is read
here and the answers appended.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import subprocess
import sys
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMCONFIG = ROOT / "samconfig.toml"
ANSWERS = ROOT / "samconfig.local.toml"
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")  # the template's AllowedPattern of EmailSender and AlarmEmail
PLACEHOLDER_SENDER = "no-reply@filegate.example"  # the template's default: no SES identity can verify it


class DeployError(SystemExit):
    """A question without a usable answer; deploying would fail or mail nobody."""


def samconfig_overrides(samconfig: Path, env: str) -> list[str]:
    """The env's `deploy.parameters.parameter_overrides` as KEY=VALUE items."""
    config = tomllib.loads(samconfig.read_text(encoding="utf-8"))
    overrides = config.get(env, {}).get("deploy", {}).get("parameters", {}).get("parameter_overrides", "")
    items = overrides if isinstance(overrides, list) else shlex.split(str(overrides))
    return [str(item) for item in items]


def saved_answers(path: Path, env: str) -> dict[str, str]:
    if not path.exists():
        return {}
    section = tomllib.loads(path.read_text(encoding="utf-8")).get(env, {})
    return {str(k): str(v) for k, v in section.items()}


def save_answers(path: Path, env: str, answers: Mapping[str, str]) -> None:
    """Rewrites the file with this env's answers (other envs kept)."""
    everything = tomllib.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    everything[env] = dict(answers)
    lines = ["# make deploy's answers per environment (infra/deploy.py); not committed."]
    for section, values in everything.items():
        lines.append(f"\n[{section}]")
        lines.extend(f'{key} = "{value}"' for key, value in values.items())
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def ask(
    question: str,
    *,
    current: str,
    allow_empty: bool,
    read: Callable[[str], str],
    interactive: bool,
) -> str:
    """One answer, checked like the template checks it; the remembered one is the default."""
    while True:
        if not interactive:
            answer = current
        else:
            shown = f" [{current}]" if current else ""
            answer = read(f"{question}{shown}: ").strip() or current
        if (allow_empty and answer == "") or (EMAIL.fullmatch(answer) and answer != PLACEHOLDER_SENDER):
            return answer
        if not interactive:
            raise DeployError(f"error: {question}: no usable answer (set it in the environment, see docs/deploy.md)")
        print("  an email address, please" + (" (or nothing)" if allow_empty else ""), file=sys.stderr)


def answers_for(
    env: str,
    *,
    environ: Mapping[str, str],
    remembered: Mapping[str, str],
    read: Callable[[str], str],
    interactive: bool,
) -> dict[str, str]:
    sender = ask(
        "Address mail to people comes from (a verified SES identity)",
        current=environ.get("EMAIL_SENDER") or remembered.get("EmailSender", ""),
        allow_empty=False,
        read=read,
        interactive=interactive,
    )
    alarms = ask(
        "Email address the alarms go to (empty: none; subscribe to the AlarmTopicArn output instead)",
        current=environ.get("ALARM_EMAIL", remembered.get("AlarmEmail", "")),
        allow_empty=True,
        read=read,
        interactive=interactive,
    )
    return {"EmailSender": sender, "AlarmEmail": alarms}


def deploy_command(sam: str, env: str, overrides: list[str], answers: Mapping[str, str], extra: list[str]) -> list[str]:
    """`sam deploy` for env with samconfig's overrides and the answers, as the one string SAM parses: each value
    double-quoted (SAM reads `Key=` as no value at all, `Key=""` as an empty one)."""
    values = dict(item.split("=", 1) for item in overrides if "=" in item)
    values.update(answers)
    quoted = " ".join(f'{name}="{value.replace(chr(34), chr(92) + chr(34))}"' for name, value in values.items())
    return [sam, "deploy", "--config-env", env, "--parameter-overrides", quoted, *extra]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("env", choices=["dev", "prod"], help="samconfig.toml environment (stack and stage)")
    parser.add_argument("--sam", default="sam", help="the sam executable")
    parser.add_argument("--dry-run", action="store_true", help="print the command instead of running it")
    parser.add_argument("extra", nargs="*", help="more arguments for sam deploy (after --)")
    args = parser.parse_args(argv)
    answers = answers_for(
        args.env,
        environ=os.environ,
        remembered=saved_answers(ANSWERS, args.env),
        read=input,
        interactive=sys.stdin.isatty(),
    )
    save_answers(ANSWERS, args.env, answers)
    command = deploy_command(args.sam, args.env, samconfig_overrides(SAMCONFIG, args.env), answers, args.extra)
    print("+ " + shlex.join(command), file=sys.stderr)
    if args.dry_run:
        return 0
    return subprocess.run(command, cwd=ROOT, check=False).returncode


if __name__ == "__main__":
    raise SystemExit(main())
