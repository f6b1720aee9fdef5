"""Mail to people (docs/api.md §6): Amazon SES v2 ``SendEmail`` from the ``EmailSender`` template parameter.

The client is created once per container (filegate.aws). A message's body holds sign-in codes and links:
it is never logged, and neither is the recipient's address (only its domain).
"""

from __future__ import annotations

from dataclasses import dataclass

from filegate import aws
from filegate.observability import logger


@dataclass(frozen=True)
class Message:
    to: str
    subject: str
    text: str


def send(sender: str, message: Message) -> str:
    """Send one plain-text message; SES's message id. Raises what SES raises (the caller decides)."""
    reply = aws.client("sesv2").send_email(
        FromEmailAddress=sender,
        Destination={"ToAddresses": [message.to]},
        Content={
            "Simple": {
                "Subject": {"Data": message.subject, "Charset": "UTF-8"},
                "Body": {"Text": {"Data": message.text, "Charset": "UTF-8"}},
            }
        },
    )
    message_id = str(reply["MessageId"])
    logger.info("email sent", extra={"message_id": message_id, "to_domain": message.to.rpartition("@")[2]})
    return message_id
