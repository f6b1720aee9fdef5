"""Kept only for tests/local, which imports these names from here: the helpers are tests.helpers.local_api
and tests.helpers.processes (delete this module once tests/local imports them from there)."""

from tests.helpers.local_api import Client, admin, assert_error, new_account, wait_for_conversion
from tests.helpers.processes import all_gone_within, child_pids, free_ports, listening, process_gone

__all__ = [
    "Client",
    "admin",
    "all_gone_within",
    "assert_error",
    "child_pids",
    "free_ports",
    "listening",
    "new_account",
    "process_gone",
    "wait_for_conversion",
]
