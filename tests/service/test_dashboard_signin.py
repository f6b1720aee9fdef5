"""Dashboard sign-in and sessions (docs/api.md §7): codes and links, their limits, enumeration, the cookie,
timeouts, logout and ending sessions. Times are moved by editing the stored records (the real checks run)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import boto3
import pytest

from filegate.clock import utcnow
from filegate.dashboard import signin
from filegate.dashboard.padding import Padding
from filegate.dashboard.web import create_app
from filegate.db import accounts as accounts_table
from filegate.db import logins as logins_table
from filegate.db import sessions as sessions_table
from filegate.lambda_http import http_handler
from filegate_local.mailbox import messages
from tests.service.conftest import PUBLIC_BASE_URL, Stack
from tests.service.dashboard_client import Browser, csrf_token, latest_mail, location, mails_to, set_cookies
from tests.service.helpers import sign_up

BAD = "That code or link is not valid"


def _address() -> str:
    return f"signin-{uuid.uuid4().hex}@example.com"


def _browser(stack: Stack, **kwargs: str) -> Browser:
    return Browser(stack.api, stack.moto_url, **kwargs)


def _type_code(browser: Browser, address: str, code: str) -> object:
    page = browser.get("/dashboard/login")
    return browser.request(
        "POST", "/dashboard/login/code", {"email": address, "code": code, "csrf_token": csrf_token(page.body.decode())}
    )


def _confirm(browser: Browser, token: str) -> object:
    page = browser.get(f"/dashboard/login/confirm?token={token}")
    return browser.request(
        "POST", "/dashboard/login/confirm", {"token": token, "csrf_token": csrf_token(page.body.decode())}
    )


def _audit_actions(account_id: str) -> list[str]:
    from filegate.audit.service import list_entries

    return [e["action"] for e in list_entries(account_id, limit=100, cursor=None, now=utcnow())["data"]]


# ------------------------------------------------------------------ the code and the link


def test_the_code_from_the_mail_signs_in_and_makes_a_free_account_without_keys(stack: Stack) -> None:
    browser = _browser(stack)
    address = _address()
    assert accounts_table.find_by_email(address) is None
    sent = browser.ask_for_code(address)
    assert sent.status == 200 and b"Check your email" in sent.body
    assert mails_to(stack.moto_url, address) == 1
    code, _ = latest_mail(stack.moto_url, address)
    done = _type_code(browser, address, code)
    assert done.status == 303 and location(done) == "/dashboard"
    line = set_cookies(done)["__Host-fg_session"]
    value = line.split(";", 1)[0].split("=", 1)[1]
    assert line == f"__Host-fg_session={value}; Path=/; Secure; HttpOnly; SameSite=Lax"  # no Domain, no Max-Age
    assert len(value) >= 43  # 256 random bits, base64url
    account = accounts_table.find_by_email(address)
    assert account is not None and account.tier == "free" and account.status == "active"
    keys = browser.get("/dashboard/keys")
    assert keys.status == 200 and b"No keys yet" in keys.body
    assert "session.created" in _audit_actions(account.account_id)


def test_opening_the_link_never_signs_in_its_button_does(stack: Stack) -> None:
    browser = _browser(stack)
    address = _address()
    browser.ask_for_code(address)
    _, token = latest_mail(stack.moto_url, address)
    scanner = _browser(stack)  # a mail scanner opening the link
    opened = scanner.get(f"/dashboard/login/confirm?token={token}")
    assert opened.status == 200 and b"Confirm sign-in" in opened.body
    assert "__Host-fg_session" not in scanner.cookies
    assert scanner.get("/dashboard").status == 303
    done = _confirm(browser, token)
    assert done.status == 303 and location(done) == "/dashboard"
    assert browser.get("/dashboard").status == 200


def test_code_and_link_work_once(stack: Stack) -> None:
    browser = _browser(stack)
    address = _address()
    browser.ask_for_code(address)
    code, token = latest_mail(stack.moto_url, address)
    assert _type_code(browser, address, code).status == 303
    again = _type_code(_browser(stack), address, code)
    assert again.status == 400 and BAD.encode() in again.body
    link = _confirm(_browser(stack), token)  # one sign-in: the code used it up, the link with it
    assert link.status == 400 and BAD.encode() in link.body


def test_an_expired_code_or_link_is_refused_with_the_same_text(stack: Stack) -> None:
    browser = _browser(stack)
    address = _address()
    browser.ask_for_code(address)
    code, token = latest_mail(stack.moto_url, address)
    pending = logins_table.get(logins_table.email_key(address))
    assert pending is not None
    pending.update(actions=[logins_table.LoginRecord.valid_until.set(utcnow() - timedelta(seconds=1))])
    by_code, by_link = _type_code(browser, address, code), _confirm(browser, token)
    wrong = _type_code(browser, address, "000000" if code != "000000" else "111111")
    assert by_code.status == by_link.status == wrong.status == 400
    for response in (by_code, by_link, wrong):
        assert BAD.encode() in response.body
    assert "__Host-fg_session" not in browser.cookies


def test_five_wrong_codes_end_the_code_but_not_the_link(stack: Stack) -> None:
    browser = _browser(stack)
    address = _address()
    browser.ask_for_code(address)
    code, token = latest_mail(stack.moto_url, address)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for _ in range(5):
        assert _type_code(browser, address, wrong).status == 400
    assert _type_code(browser, address, code).status == 400  # the right code, too late
    assert _confirm(browser, token).status == 303  # a stranger's guesses cannot lock the owner out


def test_twenty_wrong_codes_in_a_day_stop_codes_for_the_address_across_new_emails(stack: Stack) -> None:
    # Before, each new email reset the count of five: guessing went on without end (about 100 an hour).
    _clear_of_a_window_edge(signin.WRONG_CODES_WINDOW_SECONDS)
    _clear_of_a_window_edge(signin.ADDRESS_WINDOW_SECONDS, margin=90)
    address = _address()
    emails = signin.WRONG_CODES_PER_ADDRESS // signin.MAX_CODE_ATTEMPTS  # 4 emails, 5 wrong codes each
    for _ in range(emails):
        _browser(stack).ask_for_code(address)
        code, _ = latest_mail(stack.moto_url, address, seen=set())
        wrong = f"{(int(code) + 1) % 1_000_000:06d}"
        for _ in range(signin.MAX_CODE_ATTEMPTS):
            assert _type_code(_browser(stack), address, wrong).status == 400
    browser = _browser(stack)
    browser.ask_for_code(address)  # a fresh email with a fresh count of five
    code, token = latest_mail(stack.moto_url, address, seen=set())
    assert _type_code(browser, address, code).status == 400  # the right code: codes are stopped for the day
    assert _confirm(browser, token).status == 303  # the link still signs the owner in


def test_the_link_in_the_mail_is_built_from_public_base_url_never_from_the_host_header(stack: Stack) -> None:
    browser = _browser(stack)
    address = _address()
    forwarded = {"Host": "attacker.example", "Origin": "https://attacker.example"}
    page = browser.request("GET", "/dashboard/login", headers={"Host": "attacker.example"})
    sent = browser.request(
        "POST", "/dashboard/login", {"email": address, "csrf_token": csrf_token(page.body.decode())}, headers=forwarded
    )
    assert sent.status == 200, sent
    mail = [m for m in messages(stack.moto_url) if address in m.to][-1]
    assert f"{PUBLIC_BASE_URL}/dashboard/login/confirm?token=" in mail.body
    assert "attacker" not in mail.body


class PaddingClock:
    """Monotonic time that runs with the real work but jumps over the padding's sleeps (nothing waits): it
    records each reading and each sleep, so a test sees when every answer left."""

    def __init__(self) -> None:
        self.offset = 0.0
        self.readings: list[float] = []
        self.slept: list[float] = []

    def __call__(self) -> float:
        self.readings.append(time.monotonic() + self.offset)
        return self.readings[-1]

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.offset += seconds


def test_every_sign_in_answer_leaves_at_the_same_time_whatever_happened(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Before, a held limit answered 3-15x faster than a sent code: an observer learnt someone was signing in.
    floor = 30.0  # far above any path's real work, and never waited for: the clock jumps
    clock = PaddingClock()
    dashboard = stack.functions.module(stack.functions.by_folder("dashboard"))
    padded = create_app(dashboard.settings, Padding(floor, clock=clock, sleep=clock.sleep))
    monkeypatch.setattr(dashboard, "handler", http_handler(padded))
    _clear_of_a_window_edge(signin.ADDRESS_WINDOW_SECONDS)
    address = _address()

    def answered(send: Callable[[], Any], status: int) -> None:
        readings, slept = len(clock.readings), len(clock.slept)
        response = send()
        assert response.status == status, response
        (started, checked), (waited,) = clock.readings[readings:], clock.slept[slept:]  # padded once
        assert checked - started + waited == pytest.approx(floor)

    answered(lambda: _browser(stack).ask_for_code("not-an-address"), 400)  # refused at once
    for _ in range(signin.EMAILS_PER_ADDRESS):
        answered(lambda: _browser(stack).ask_for_code(address), 200)  # an email goes out (SES)
    answered(lambda: _browser(stack).ask_for_code(address), 200)  # the address's limit holds it back
    assert mails_to(stack.moto_url, address) == signin.EMAILS_PER_ADDRESS
    code, token = latest_mail(stack.moto_url, address, seen=set())
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    answered(lambda: _type_code(_browser(stack), address, wrong), 400)  # a wrong code (scrypt)
    answered(lambda: _type_code(_browser(stack), _address(), code), 400)  # no code pending for that address
    answered(lambda: _type_code(_browser(stack), address, code), 303)  # the right code
    answered(lambda: _confirm(_browser(stack), token), 400)  # its link, used with it


def test_a_newer_email_replaces_the_older_one(stack: Stack) -> None:
    browser = _browser(stack)
    address = _address()
    browser.ask_for_code(address)
    old_code, old_token = latest_mail(stack.moto_url, address)
    browser.ask_for_code(address)
    new_code, _ = latest_mail(stack.moto_url, address, seen=set())
    assert _confirm(browser, old_token).status == 400
    if old_code != new_code:
        assert _type_code(browser, address, old_code).status == 400
    assert _type_code(browser, address, new_code).status == 303


def test_nothing_raw_is_stored(stack: Stack) -> None:
    browser = _browser(stack)
    address = _address()
    browser.ask_for_code(address)
    code, token = latest_mail(stack.moto_url, address)
    assert _type_code(browser, address, code).status == 303
    session = browser.cookies["__Host-fg_session"]
    dynamodb = boto3.client("dynamodb", endpoint_url=stack.moto_url, region_name=stack.template.region)
    for table in (logins_table.LoginRecord.Meta.table_name, sessions_table.SessionRecord.Meta.table_name):
        dump = str(dynamodb.scan(TableName=table)["Items"])
        assert token not in dump and session not in dump
        assert f"'{code}'" not in dump and f"is {code}" not in dump


# ------------------------------------------------------------------ limits and enumeration


def _clear_of_a_window_edge(seconds: int, margin: float = 15.0) -> None:
    """The limits count in fixed windows: start a burst well inside one, so it is counted in one."""
    left = seconds - time.time() % seconds
    if left < margin:
        time.sleep(left + 0.5)


def test_at_most_five_emails_per_address_per_window(stack: Stack) -> None:
    _clear_of_a_window_edge(signin.ADDRESS_WINDOW_SECONDS)
    address = _address()
    pages = [_browser(stack).ask_for_code(address) for _ in range(6)]  # a new source IP each time
    assert [p.status for p in pages] == [200] * 6
    fifth, sixth = (_page_text(p.body, csrf_token(p.body.decode())) for p in pages[4:])
    assert sixth == fifth  # held back, and nothing on the page says so
    assert mails_to(stack.moto_url, address) == 5


def test_at_most_twenty_emails_per_source_ip_per_hour(stack: Stack) -> None:
    _clear_of_a_window_edge(signin.IP_WINDOW_SECONDS)
    browser = _browser(stack)
    addresses = [_address() for _ in range(21)]
    for address in addresses:
        assert browser.ask_for_code(address).status == 200
    assert [mails_to(stack.moto_url, a) for a in addresses] == [1] * 20 + [0]


def _page_text(body: bytes, *secrets: str) -> bytes:
    for value in secrets:
        body = body.replace(value.encode(), b"<x>")
    return body.split(b"<footer")[0]  # the footer names the request id


def test_the_same_page_and_the_same_mail_whether_or_not_the_address_has_an_account(stack: Stack) -> None:
    known = sign_up(stack.api)  # an account made with POST /v1/keys/free
    known_address = accounts_table.get(known.account_id).email  # type: ignore[union-attr]
    unknown_address = _address()
    browser = _browser(stack)
    for_known = browser.ask_for_code(known_address)
    for_unknown = browser.ask_for_code(unknown_address)
    assert for_known.status == for_unknown.status == 200
    token = csrf_token(for_known.body.decode())
    assert _page_text(for_known.body, known_address, token) == _page_text(for_unknown.body, unknown_address, token)
    assert mails_to(stack.moto_url, known_address) == mails_to(stack.moto_url, unknown_address) == 1
    code, _ = latest_mail(stack.moto_url, known_address)
    assert _type_code(browser, known_address, code).status == 303
    keys = browser.get("/dashboard/keys").body.decode()
    assert known.key[:12] in keys  # the same account: its API key is listed
    assert accounts_table.find_by_email(unknown_address) is None  # made only at a first sign-in


def test_a_malformed_address_is_asked_again(stack: Stack) -> None:
    response = _browser(stack).ask_for_code("not-an-address")
    assert response.status == 400 and b"valid email address" in response.body


# ------------------------------------------------------------------ sessions


def _session_record(browser: Browser) -> sessions_table.SessionRecord:
    from filegate.dashboard.sessions import token_hash

    record = sessions_table.get(token_hash(browser.cookies["__Host-fg_session"]))
    assert record is not None
    return record


@pytest.mark.parametrize("field", ["last_seen_at", "created_at"])
def test_idle_and_absolute_timeouts_end_a_session(stack: Stack, field: str) -> None:
    browser = _browser(stack)
    browser.sign_in()
    assert browser.get("/dashboard").status == 200
    record = _session_record(browser)
    now = utcnow()
    if field == "last_seen_at":  # 30 minutes without use
        record.update(actions=[sessions_table.SessionRecord.last_seen_at.set(now - timedelta(minutes=30, seconds=5))])
    else:  # used all along, but signed in 12 hours ago
        record.update(actions=[sessions_table.SessionRecord.created_at.set(now - timedelta(hours=12, seconds=5))])
    gone = browser.get("/dashboard")
    assert gone.status == 303 and location(gone) == "/dashboard/login"


def test_a_session_in_use_stays(stack: Stack) -> None:
    browser = _browser(stack)
    browser.sign_in()
    record = _session_record(browser)
    record.update(actions=[sessions_table.SessionRecord.last_seen_at.set(utcnow() - timedelta(minutes=29))])
    assert browser.get("/dashboard").status == 200
    assert _session_record(browser).last_seen_at > utcnow() - timedelta(minutes=1)  # the visit was recorded


def test_logout_ends_the_session_on_the_server(stack: Stack) -> None:
    browser = _browser(stack)
    address = browser.sign_in()
    stolen = browser.cookies["__Host-fg_session"]
    out = browser.post("/dashboard/logout", token_from="/dashboard")
    assert out.status == 303 and location(out) == "/dashboard/login"
    assert "Max-Age=0" in set_cookies(out)["__Host-fg_session"]
    thief = _browser(stack)
    thief.cookies["__Host-fg_session"] = stolen
    assert thief.get("/dashboard").status == 303
    account = accounts_table.find_by_email(address)
    assert account is not None and _audit_actions(account.account_id)[:2] == ["session.ended", "session.created"]


def test_every_sign_in_gets_a_new_session_id(stack: Stack) -> None:
    browser = _browser(stack)
    address = browser.sign_in()
    first = browser.cookies["__Host-fg_session"]
    browser.sign_in(address)
    second = browser.cookies["__Host-fg_session"]
    assert first != second
    old = _browser(stack)
    old.cookies["__Host-fg_session"] = first
    assert old.get("/dashboard").status == 303  # the browser's previous session ended with the new sign-in


def test_end_one_session_or_all_others(stack: Stack) -> None:
    laptop, phone, tablet = _browser(stack), _browser(stack), _browser(stack)
    address = laptop.sign_in()
    phone.sign_in(address)
    tablet.sign_in(address)
    listing = laptop.get("/dashboard/sessions").body.decode()
    phone_id = _session_record(phone).session_id
    assert listing.count("<tr>") == 1 + 3 and phone_id in listing and "(this one)" in listing
    ended = laptop.post(f"/dashboard/sessions/{phone_id}/end", token_from="/dashboard/sessions")
    assert ended.status == 303
    assert phone.get("/dashboard").status == 303
    assert tablet.get("/dashboard").status == 200
    others = laptop.post("/dashboard/sessions/end-others", token_from="/dashboard/sessions")
    assert others.status == 303
    assert tablet.get("/dashboard").status == 303
    assert laptop.get("/dashboard").status == 200
    assert laptop.get("/dashboard/sessions").body.decode().count("<tr>") == 1 + 1


def test_another_accounts_session_cannot_be_ended(stack: Stack) -> None:
    mine, theirs = _browser(stack), _browser(stack)
    mine.sign_in()
    theirs.sign_in()
    their_id = _session_record(theirs).session_id
    refused = mine.post(f"/dashboard/sessions/{their_id}/end", token_from="/dashboard/sessions")
    assert refused.status == 404
    assert theirs.get("/dashboard").status == 200
