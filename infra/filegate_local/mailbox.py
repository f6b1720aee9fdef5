"""The mail the functions send, as moto's SES records it (the moto process lists it at `/_filegate/ses-messages`),
and `MailEcho`, which prints each new message once, so a person running `make dev` reads their sign-in code on
the console as they would in their inbox.
"""

import json
import sys
import threading
import urllib.request
from typing import NamedTuple, TextIO

from filegate_local.poller import PollerThread


class Mail(NamedTuple):
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
        Mail(m["id"], m["source"], m["destinations"].get("ToAddresses", []), m["subject"], m["body"]) for m in found
    ]


class MailEcho(PollerThread):
    """Prints each message the stack sends, once, until `stop` is set."""

    def __init__(self, moto_url: str, stop: threading.Event, out: TextIO | None = None) -> None:
        super().__init__("mail-echo", stop)
        self.moto_url, self.out, self.seen = moto_url, out or sys.stderr, set[str]()

    def poll(self) -> bool:
        """Waits a second, then prints what is new; True: poll again at once (the wait was here)."""
        self.stop_event.wait(1.0)
        for mail in messages(self.moto_url):
            if mail.id not in self.seen:
                self.seen.add(mail.id)
                rule = "-" * 72
                self.out.write(f"\n{rule}\nEmail to {', '.join(mail.to)} from {mail.source}\nSubject: {mail.subject}\n")
                self.out.write(f"\n{mail.body}\n{rule}\n")
                self.out.flush()
        return True
