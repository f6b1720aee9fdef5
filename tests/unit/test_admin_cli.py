"""filegate-admin's command line: global options before or after the subcommand, like the AWS CLI."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT / "infra") not in sys.path:
    sys.path.insert(0, str(ROOT / "infra"))

from filegate_admin.cli import parser  # noqa: E402


@pytest.mark.parametrize(
    "argv",
    [
        ["--local", "--state-dir", "/s", "--env", "dev", "show-account", "acct_1"],
        ["show-account", "acct_1", "--local", "--state-dir", "/s", "--env", "dev"],
        ["--local", "show-account", "--env", "dev", "acct_1", "--state-dir", "/s"],
    ],
)
def test_global_options_anywhere(argv: list[str]) -> None:
    args = parser().parse_args(argv)
    assert (args.command, args.account_id, args.local, args.state_dir, args.env) == (
        "show-account",
        "acct_1",
        True,
        "/s",
        "dev",
    )


def test_defaults_hold_when_no_global_option_is_given() -> None:
    args = parser().parse_args(["revoke-keys", "acct_2"])
    assert (args.command, args.account_id, args.local, args.env, args.region) == (
        "revoke-keys",
        "acct_2",
        False,
        "default",
        None,
    )


def test_an_option_after_the_subcommand_overrides_one_before() -> None:
    args = parser().parse_args(["--region", "us-east-1", "set-tier", "acct_3", "pro", "--region", "eu-west-1"])
    assert (args.region, args.tier) == ("eu-west-1", "pro")


def test_every_command_needs_its_account(capsys: pytest.CaptureFixture[str]) -> None:
    for command in ("show-account", "revoke-keys"):
        with pytest.raises(SystemExit):
            parser().parse_args(["--local", command])
    assert "account_id" in capsys.readouterr().err
