"""The mail the functions send, as moto's SES records it, and its echo on the console for `make dev`.

The local stack's moto process lists every message SES accepted at `/_filegate/ses-messages` (see
moto_process). `MailEcho` polls it and prints each new message once, so a person running the stack reads
their sign-in code on the console as they would in their inbox.
"""

from __future__ import annotations

import json
import sys
import threading
import urllib.request
from dataclasses import dataclass
from typing import TextIO

from filegate_local.poller import PollerThread

POLL_SECONDS = 1.0


@dataclass(frozen=True)
class Mail:
    id: str
    source: str
    to: list[str]
    subject: str
    body: str


def messages(moto_url: str, timeout: float = 10.0) -> list[Mail]:
    """Every message moto's SES has accepted, oldest first."""
    with urllib.request.urlopen(f"{moto_url}/_filegate/ses-messages", timeout=timeout) as response:  # noqa: S310
        found = json.loads(response.read())["messages"]
    return [
        Mail(str(m["id"]), str(m["source"]), list(m["destinations"].get("ToAddresses") or []), m["subject"], m["body"])
        for m in found
    ]


class MailEcho(PollerThread):
    """Prints each message the stack sends, once, until `stop` is set."""

    def __init__(self, moto_url: str, stop: threading.Event, out: TextIO | None = None) -> None:
        super().__init__("mail-echo", stop)
        self.moto_url, self.out = moto_url, out or sys.stderr
        self.seen: set[str] = set()

    def poll(self) -> bool:
        rule = "-" * 72
        for mail in messages(self.moto_url):
            if mail.id not in self.seen:
                self.seen.add(mail.id)
                to = ", ".join(mail.to)
                self.out.write(
                    f"\n{rule}\nEmail to {to} from {mail.source}\nSubject: {mail.subject}\n\n{mail.body}\n{rule}\n"
                )
                self.out.flush()
        return False

    def idle_seconds(self, idle_polls: int) -> float:
        return POLL_SECONDS
