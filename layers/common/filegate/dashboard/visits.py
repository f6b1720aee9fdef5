"""The signed-in dependency every page but sign-in shares: the session, its account and the authority it acts
with. The dashboard holds the account's full authority: its caller is an AuthContext with every scope, and its
actor in the audit log is the session."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request
from starlette.datastructures import FormData

from filegate.audit import service as audit
from filegate.clock import utcnow
from filegate.context import SESSION_CALLER_PREFIX, AuthContext
from filegate.dashboard import csrf
from filegate.dashboard import sessions as session_service
from filegate.dashboard.forms import field
from filegate.db import accounts as accounts_table
from filegate.db.accounts import AccountRecord
from filegate.db.sessions import SessionRecord
from filegate.routes import SCOPES
from filegate.web import source_ip


class SignInRequired(Exception):
    """A page that needs a session, without one: 303 to the sign-in page."""


@dataclass
class Visit:
    """A signed-in request: its session, account, the authority it acts with, and where it came from."""

    session: SessionRecord
    token: str  # the session cookie's value: the CSRF token derives from it
    account: AccountRecord
    caller: AuthContext
    ip: str
    now: datetime

    @property
    def actor(self) -> audit.Actor:
        return session_service.actor(self.session)

    @property
    def csrf_token(self) -> str:
        return csrf.token_for(self.token)


def authority(account: AccountRecord, session: SessionRecord) -> AuthContext:
    """The account's full authority, as a caller of the services: every scope, its tier and status now."""
    return AuthContext(
        account_id=account.account_id,
        key_id=SESSION_CALLER_PREFIX + session.session_id,
        key_prefix="",
        tier=account.tier,
        scopes=frozenset(SCOPES),
        test_mode=False,
        suspended=account.status == "suspended",
    )


def visit_of(request: Request) -> Visit:
    now = utcnow()
    token = request.cookies.get(session_service.COOKIE)
    record = session_service.resolve(token, now)
    if record is None or token is None:
        raise SignInRequired()
    account = accounts_table.get(record.account_id)
    if account is None:
        raise SignInRequired()
    return Visit(record, token, account, authority(account, record), source_ip(request), now)


async def posted(request: Request) -> tuple[Visit, FormData]:
    """A signed-in POST: same origin, and the session's CSRF token."""
    csrf.check_origin(request)
    visit = visit_of(request)
    form = await request.form()
    if not csrf.token_matches(visit.token, field(form, csrf.FIELD)):
        raise csrf.Forbidden("This form has expired or did not come from this dashboard; reload the page and retry.")
    return visit, form


# What a page's handler declares to be signed in (GET) or to take a signed-in form (POST).
SignedIn = Annotated[Visit, Depends(visit_of)]
SignedInForm = Annotated[tuple[Visit, FormData], Depends(posted)]
