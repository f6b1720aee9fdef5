"""The `filegate` command's entry point. The command line draws with rich, which is the SDK's optional `cli`
extra (a library user who never runs the command does not install it); without it, the command says how to
get it rather than failing with a traceback."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from filegate_client.errors import EXIT_USAGE

INSTALL_HINT = "the filegate command line needs rich: pip install 'filegate-client[cli]'"


def main(argv: Sequence[str] | None = None) -> int:
    try:
        from filegate_client import cli
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] != "rich":
            raise
        sys.stderr.write(f"error: {INSTALL_HINT}\n")
        return EXIT_USAGE
    return cli.main(argv)


if __name__ == "__main__":
    sys.exit(main())
