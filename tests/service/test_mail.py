"""Mail through SES v2 (docs/api.md §6): the EmailSender identity the local stack's provisioner verified in moto."""

from __future__ import annotations

import uuid

import pytest
from botocore.exceptions import ClientError

from filegate import mail
from filegate_local.mailbox import messages
from tests.service.conftest import Stack


def test_a_message_from_the_sender_is_recorded_by_moto(stack: Stack) -> None:
    sender = str(stack.template.parameters["EmailSender"])
    to = f"mail-{uuid.uuid4().hex}@example.com"
    message_id = mail.send(sender, mail.Message(to=to, subject="Your code", text="Code: 123456"))
    (found,) = [m for m in messages(stack.moto_url) if m.id == message_id]
    assert found.to == [to] and found.source == sender
    assert found.subject == "Your code" and "Code: 123456" in found.body


def test_an_unverified_sender_is_refused(stack: Stack) -> None:
    with pytest.raises(ClientError, match=r"MessageRejected"):
        mail.send("someone-else@elsewhere.example", mail.Message(to="a@example.com", subject="s", text="t"))


def test_the_local_stack_echoes_each_message_once(stack: Stack) -> None:
    import io
    import threading
    import time

    from filegate_local.mailbox import MailEcho

    out, stop = io.StringIO(), threading.Event()
    echo = MailEcho(stack.moto_url, stop, out)
    echo.seen.update(m.id for m in messages(stack.moto_url))  # only what is sent from now on
    echo.start()
    try:
        to = f"echo-{uuid.uuid4().hex}@example.com"
        mail.send(str(stack.template.parameters["EmailSender"]), mail.Message(to=to, subject="Hi", text="Code: 654321"))
        deadline = time.monotonic() + 10
        while to not in out.getvalue() and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1.5)  # another poll: still printed once
    finally:
        stop.set()
        echo.join(timeout=5)
    assert out.getvalue().count(f"Email to {to}") == 1 and "Code: 654321" in out.getvalue()


def test_the_stacks_mail_list_is_moto_data_json_list(stack: Stack) -> None:
    """The local stack's cheap endpoint lists what moto's own data.json lists under ses."""
    import json
    import urllib.request

    mail.send(str(stack.template.parameters["EmailSender"]), mail.Message(to="same@example.com", subject="s", text="t"))
    with urllib.request.urlopen(f"{stack.moto_url}/moto-api/data.json", timeout=60) as response:
        dumped = [m["id"] for m in json.loads(response.read())["ses"]["Message"]]
    assert [m.id for m in messages(stack.moto_url)] == dumped
