"""Webhooks: endpoints, the signing secret, and each endpoint's deliveries (a pro feature)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from filegate import errors
from filegate.dashboard.forms import field
from filegate.dashboard.rendering import Dashboard, Site, redirect
from filegate.dashboard.visits import SignedIn, SignedInForm, Visit
from filegate.keys.access import check_route
from filegate.webhooks import deliveries as webhook_deliveries
from filegate.webhooks import endpoints as webhook_endpoints
from filegate.webhooks import signing_secrets as webhook_secrets
from filegate.webhooks.events import CONVERSION_FAILED, CONVERSION_SUCCEEDED

WEBHOOK_EVENTS: Final = (CONVERSION_SUCCEEDED, CONVERSION_FAILED)

router = APIRouter()


def webhooks_page(
    site: Dashboard, request: Request, visit: Visit, *, status: int = 200, **context: Any
) -> HTMLResponse:
    base: dict[str, Any] = {"webhooks": [], "events": WEBHOOK_EVENTS, "secret": None, **context}
    try:
        check_route(visit.caller, "GET", "/v1/webhooks")
        listing = webhook_endpoints.list_webhooks(visit.caller, visit.now)
        base.update(webhooks=listing["data"], secret=listing["signing_secret"])
        chosen = request.query_params.get("deliveries")
        if chosen:
            page = webhook_deliveries.list_deliveries(visit.caller, chosen, limit=25, cursor=None)
            base.update(deliveries=page["data"], deliveries_of=chosen)
    except errors.ApiError as exc:
        return site.page_error(request, visit, "webhooks.html", exc, status=status, **base)
    return site.render(request, "webhooks.html", status=status, visit=visit, **base)


@router.get("/dashboard/webhooks")
def _webhooks(request: Request, site: Site, visit: SignedIn) -> Response:
    return webhooks_page(site, request, visit)


@router.post("/dashboard/webhooks")
async def _add_webhook(request: Request, site: Site, posted: SignedInForm) -> Response:
    visit, form = posted
    try:
        check_route(visit.caller, "POST", "/v1/webhooks")
        webhook_endpoints.register_webhook(
            visit.caller, site.settings, url=field(form, "url") or "", events=[str(e) for e in form.getlist("events")],
            now=visit.now, actor=visit.actor, ip=visit.ip,
        )  # fmt: skip
    except errors.ApiError as exc:
        return webhooks_page(site, request, visit, status=exc.status, error=exc.message)
    return redirect(request, "/dashboard/webhooks?done=webhook-added")


@router.post("/dashboard/webhooks/secret")
async def _rotate_secret(request: Request, site: Site, posted: SignedInForm) -> Response:
    return _secret_shown(site, request, posted[0], "POST", webhook_secrets.create_or_rotate_secret, which="new")


@router.post("/dashboard/webhooks/secret/reveal")
async def _reveal_secret(request: Request, site: Site, posted: SignedInForm) -> Response:
    return _secret_shown(site, request, posted[0], "GET", webhook_secrets.reveal_secret, which="current")


def _secret_shown(
    site: Site, request: Request, visit: Visit, method: str, act: Callable[..., dict[str, Any]], *, which: str
) -> Response:
    """The page with the signing secret `act` gives (a new one, or the current one shown again), as the API's
    `method /v1/webhooks/secret` would allow it; else the page with the API's error."""
    try:
        check_route(visit.caller, method, "/v1/webhooks/secret")
        secret = act(visit.caller, visit.now, actor=visit.actor, ip=visit.ip)["secret"]
    except errors.ApiError as exc:
        return webhooks_page(site, request, visit, status=exc.status, error=exc.message)
    return webhooks_page(site, request, visit, shown_secret=secret, shown_which=which)


@router.post("/dashboard/webhooks/{webhook_id}/delete")
async def _delete_webhook(request: Request, webhook_id: str, posted: SignedInForm) -> Response:
    visit, _ = posted
    check_route(visit.caller, "DELETE", "/v1/webhooks/{id}")
    webhook_endpoints.delete_webhook(visit.caller, webhook_id, now=visit.now, actor=visit.actor, ip=visit.ip)
    return redirect(request, "/dashboard/webhooks?done=webhook-deleted")


@router.post("/dashboard/webhooks/{webhook_id}/test")
async def _test_webhook(request: Request, webhook_id: str, site: Site, posted: SignedInForm) -> Response:
    visit, _ = posted
    check_route(visit.caller, "POST", "/v1/webhooks/{id}/test")
    webhook_endpoints.send_test(visit.caller, site.settings, webhook_id, visit.now)
    return redirect(request, f"/dashboard/webhooks?deliveries={webhook_id}&done=test-sent")


@router.post("/dashboard/webhooks/{webhook_id}/deliveries/{delivery_id}/resend")
async def _resend(request: Request, webhook_id: str, delivery_id: str, site: Site, posted: SignedInForm) -> Response:
    visit, _ = posted
    check_route(visit.caller, "POST", "/v1/webhooks/{id}/test")  # sends to the endpoint, like a test
    webhook_deliveries.resend_delivery(visit.caller, site.settings, webhook_id, delivery_id, visit.now)
    return redirect(request, f"/dashboard/webhooks?deliveries={webhook_id}&done=resent")
