"""API Gateway REQUEST authorizer: API key → who is calling, and one policy allowing the whole API.

It authenticates only; the functions authorize each route from the route table (filegate.keys.access).

Kept free of FastAPI and the X-Ray SDK: it runs on every cache miss, and its cold start is on the
request path.
"""

from __future__ import annotations

from typing import Any

from filegate.activity import record as activity
from filegate.clock import utcnow
from filegate.db import bind_tables
from filegate.keys import authorizer
from filegate.observability import instrument, logger
from filegate.settings import AuthorizerSettings

settings = AuthorizerSettings.from_env()
bind_tables(settings)


def authorize(event: Any, _context: Any) -> dict[str, Any]:
    now = utcnow()
    source_ip = ""
    try:
        request = authorizer.Request.from_event(event)
        source_ip = request.source_ip or ""
        authenticated = authorizer.authenticate(request.authorization, request.source_ip, now)
        policy = authorizer.policy_for(authenticated, request.method_arn)
    except authorizer.Unauthorized as exc:
        logger.info("key refused", extra={"reason": str(exc)})
        if exc.key_id is not None:
            activity.refused_at_edge(exc.key_id, now, source_ip)
        # The one message API Gateway maps to 401 (the UNAUTHORIZED gateway response).
        raise Exception("Unauthorized") from None
    logger.info(
        "key accepted",
        extra={
            "key_id": authenticated.context.key_id,
            "key_prefix": authenticated.context.key_prefix,
            "suspended": authenticated.suspended,
        },
    )
    return policy


handler = instrument(authorize, trace=False)
