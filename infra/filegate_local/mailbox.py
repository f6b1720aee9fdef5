"""The mail the functions send, as moto's SES records it, and its echo on the console for `make dev`.

moto keeps every message SES v2 ``SendEmail`` accepted: ``GET <moto>/moto-api/data.json`` lists them under
``ses`` / ``Message``, and the local stack's moto process answers the same list, cheaply, at
``/_filegate/ses-messages`` (see moto_process). :class:`MailEcho` polls it and prints each new message once,
so a person running the stack reads their sign-in code on the console as they would in their inbox.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any, TextIO

log = logging.getLogger("filegate_local")

POLL_SECONDS = 1.0


@dataclass(frozen=True)
class Mail:
    id: str
    source: str
    to: list[str]
    subject: str
    body: str


def _raw_messages(moto_url: str, timeout: float) -> list[dict[str, Any]]:
    try:
        with urllib.request.urlopen(f"{moto_url}/_filegate/ses-messages", timeout=timeout) as response:  # noqa: S310
            return list(json.loads(response.read())["messages"])
    except urllib.error.HTTPError as exc:
        if exc.code != 404:
            raise
    # A moto server the local stack did not start: moto's own (slower) dump of every model.
    with urllib.request.urlopen(f"{moto_url}/moto-api/data.json", timeout=timeout) as response:  # noqa: S310
        data: dict[str, Any] = json.loads(response.read())
    return list((data.get("ses") or {}).get("Message") or [])


def messages(moto_url: str, timeout: float = 10.0) -> list[Mail]:
    """Every message moto's SES has accepted, oldest first."""
    found = []
    for item in _raw_messages(moto_url, timeout):
        destinations = item.get("destinations") or {}
        to = list(destinations.get("ToAddresses") or []) if isinstance(destinations, dict) else list(destinations)
        found.append(
            Mail(
                id=str(item.get("id", "")),
                source=str(item.get("source", "")),
                to=to,
                subject=str(item.get("subject", "")),
                body=str(item.get("body", "")),
            )
        )
    return found


def render(mail: Mail) -> str:
    rule = "-" * 72
    return (
        f"\n{rule}\nEmail to {', '.join(mail.to)} from {mail.source}\nSubject: {mail.subject}\n\n{mail.body}\n{rule}\n"
    )


class MailEcho(threading.Thread):
    """Prints each message the stack sends, once, until ``stop`` is set."""

    def __init__(self, moto_url: str, stop: threading.Event, out: TextIO | None = None) -> None:
        super().__init__(name="mail-echo", daemon=True)
        self.moto_url, self.stop, self.out = moto_url, stop, out or sys.stderr
        self.seen: set[str] = set()

    def run(self) -> None:
        while not self.stop.wait(POLL_SECONDS):
            try:
                new = [m for m in messages(self.moto_url) if m.id not in self.seen]
            except (OSError, ValueError):
                continue  # moto is stopping, or busy: try again on the next tick
            for mail in new:
                self.seen.add(mail.id)
                self.out.write(render(mail))
                self.out.flush()
