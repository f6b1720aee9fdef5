"""Passwordless sign-in (docs/api.md §7): one email with a 6-digit code and a confirm link.

Both are single-use and live 15 minutes; a new sign-in email replaces the address's previous one. Storage
keeps the code's scrypt hash (a 6-digit code under SHA-256 is a million guesses away from anyone who reads
the table; scrypt makes that hours, past the code's life) and the link token's SHA-256 (256 random bits).
Five wrong codes end the code (the link still works: a stranger guessing codes cannot lock anyone out), and
20 wrong codes for one address in a day stop codes for it until the day has passed, whatever the codes: a
new email resets the five, never the twenty, so guessing across new codes never adds up.
At most 5 emails per address per 15 minutes and 20 per source IP per hour; past that nothing is sent, and
the caller shows the same page either way, as it does for an address with or without an account.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta
from typing import Final

from filegate import errors, mail
from filegate.accounts import service as account_service
from filegate.db import counters
from filegate.db import logins as store
from filegate.db.accounts import AccountRecord
from filegate.observability import logger

CODE_DIGITS: Final = 6
LIFETIME: Final = timedelta(minutes=15)
MAX_CODE_ATTEMPTS: Final = 5
EMAILS_PER_ADDRESS: Final = 5
ADDRESS_WINDOW_SECONDS: Final = 15 * 60
EMAILS_PER_IP: Final = 20
IP_WINDOW_SECONDS: Final = 3600
WRONG_CODES_PER_ADDRESS: Final = 20
WRONG_CODES_WINDOW_SECONDS: Final = 24 * 3600
# scrypt at 16 MiB: ~30-60 ms a check on Lambda, once per attempt; a stolen hash costs hours to brute-force.
_SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 32, "maxmem": 64 * 1024 * 1024}


def code_hash(code: str, salt: str) -> str:
    return hashlib.scrypt(code.encode(), salt=bytes.fromhex(salt), **_SCRYPT).hex()


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _count_in_window(kind: str, subject: str, now: datetime, seconds: int, limit: int) -> str | None:
    """Count one email in this fixed window: the counter's id, or None when the window is full (nothing
    counted)."""
    window = int(now.timestamp()) // seconds
    ends = datetime.fromtimestamp((window + 1) * seconds, tz=now.tzinfo)
    counter_id = f"signin#{kind}#{subject}#{window}"
    counted = counters.increment(counter_id, limit=limit, expires_at=ends + timedelta(seconds=seconds))
    return None if counted is None else counter_id


def _subject(address: str) -> str:
    """How counters name an address: by its hash (the counters table holds no email addresses)."""
    return hashlib.sha256(address.encode()).hexdigest()[:32]


def _within_limits(address: str, ip: str, now: datetime) -> bool:
    by_ip = _count_in_window("ip", ip or "-", now, IP_WINDOW_SECONDS, EMAILS_PER_IP)
    if by_ip is None:
        return False
    if _count_in_window("addr", _subject(address), now, ADDRESS_WINDOW_SECONDS, EMAILS_PER_ADDRESS) is None:
        counters.decrement(by_ip)  # no email went out: the address's limit, not the IP's, refused it
        return False
    return True


def normalise(email: str) -> str | None:
    """The address as accounts store it, or None when it is not one (the page asks again)."""
    try:
        return account_service.normalise_email(email)
    except errors.InvalidRequest:
        return None


def start(address: str, *, ip: str, now: datetime, sender: str, confirm_url: str) -> bool:
    """Email a code and a link to ``address`` (normalised), unless a limit is reached; whether one was sent.
    ``confirm_url`` is the confirm page's absolute URL; the token is appended as ``?token=``."""
    if not _within_limits(address, ip, now):
        logger.info("sign-in email not sent: limit reached")
        return False
    code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
    token = secrets.token_urlsafe(32)
    salt = secrets.token_hex(16)
    hashed_token = token_hash(token)
    valid_until = now + LIFETIME
    pending = store.LoginRecord(
        store.email_key(address),
        email=address,
        code_hash=code_hash(code, salt),
        code_salt=salt,
        token_hash=hashed_token,
        attempts=0,
        created_at=now,
        valid_until=valid_until,
        expires_at=valid_until + timedelta(days=1),
    )
    link = store.LoginRecord(
        store.link_key(hashed_token),
        email=address,
        created_at=now,
        valid_until=valid_until,
        expires_at=valid_until + timedelta(days=1),
    )
    store.replace(pending, link)
    minutes = int(LIFETIME.total_seconds() // 60)
    text = (
        f"Your FileGate sign-in code is {code}\n\n"
        f"Or open this link and press the button to sign in:\n{confirm_url}?token={token}\n\n"
        f"The code and the link work once, for {minutes} minutes. If you did not ask to sign in, ignore this email."
    )
    mail.send(sender, mail.Message(to=address, subject="Your FileGate sign-in code", text=text))
    return True


def confirm_code(email: str, code: str, now: datetime) -> AccountRecord | None:
    """The account a right code signs in to (made at the first sign-in); None for a wrong, expired, used or
    exhausted code, all alike. Every attempt is counted before the code is compared."""
    address = normalise(email)
    if address is None:
        return None
    pending = store.get(store.email_key(address))
    if pending is None or pending.code_hash is None or pending.code_salt is None:
        return None
    if not store.count_attempt(pending, MAX_CODE_ATTEMPTS, now):
        return None
    # Counted as wrong before it is compared (concurrent guesses cannot slip past the cap), given back if right.
    wrong = _count_in_window("wrong", _subject(address), now, WRONG_CODES_WINDOW_SECONDS, WRONG_CODES_PER_ADDRESS)
    if wrong is None:
        logger.info("sign-in code refused: the address's daily cap on wrong codes is reached")
        return None
    given = code.strip()
    if not (len(given) == CODE_DIGITS and given.isascii() and given.isdigit()):
        return None
    if not hmac.compare_digest(code_hash(given, pending.code_salt), pending.code_hash):
        return None
    counters.decrement(wrong)
    if not store.use(pending, now):
        return None
    return account_service.account_for_sign_in(address, now)


def confirm_link(token: str, now: datetime) -> AccountRecord | None:
    """The account a confirm link's token signs in to; None for a wrong, expired, used or replaced one."""
    if not token or len(token) > 128:
        return None
    hashed = token_hash(token)
    link = store.get(store.link_key(hashed))
    if link is None:
        return None
    pending = store.get(store.email_key(link.email))
    if pending is None or pending.token_hash is None or not hmac.compare_digest(pending.token_hash, hashed):
        return None
    if not store.use(pending, now):
        return None
    return account_service.account_for_sign_in(link.email, now)
