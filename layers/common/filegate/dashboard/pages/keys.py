"""The keys: the list with a week's sparkline each, one key's activity, and creating, rotating and revoking."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, Final

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from filegate import errors
from filegate.activity import query as activity_query
from filegate.activity import service as activity_service
from filegate.clock import parse_iso
from filegate.dashboard import charts, periods
from filegate.dashboard.forms import date_field, field, list_field
from filegate.dashboard.origin import origin_of
from filegate.dashboard.rendering import Dashboard, Site, redirect
from filegate.dashboard.visits import SignedIn, SignedInForm, Visit
from filegate.keys import keyformat
from filegate.keys import service as key_service
from filegate.keys.access import check_route
from filegate.routes import SCOPES
from filegate.tiers import MAX_ROTATION_GRACE_SECONDS

GRACE_CHOICES: Final = ((0, "no grace"), (3600, "1 hour"), (86_400, "24 hours"))
SPARKLINE_DAYS: Final = 7

router = APIRouter()


def key_state(key: Mapping[str, Any], now: datetime) -> str:
    revoked, expires = key.get("revoked_at"), key.get("expires_at")
    if revoked and parse_iso(revoked) <= now:
        return "revoked"
    if expires and parse_iso(expires) <= now:
        return "expired"
    if revoked:
        return "in rotation grace"
    return "active"


def keys_page(site: Dashboard, request: Request, visit: Visit, *, status: int = 200, **context: Any) -> HTMLResponse:
    cursor = request.query_params.get("cursor")
    try:
        check_route(visit.caller, "GET", "/v1/keys")
        page = key_service.list_keys(visit.caller, limit=50, cursor=cursor)
    except errors.ApiError as exc:
        return site.page_error(
            request, visit, "keys.html", exc, status=status, keys=[], scopes=SCOPES, grace_choices=GRACE_CHOICES,
            **context,
        )  # fmt: skip
    per_day = activity_query.daily_requests([k["id"] for k in page["data"]], SPARKLINE_DAYS, visit.now)
    keys = [
        {
            **k, "mode": keyformat.mode_of(k["key_prefix"]), "state": key_state(k, visit.now),
            "spark": charts.sparkline(
                per_day[k["id"]],
                label=f"{sum(per_day[k['id']]):,} requests in the last {SPARKLINE_DAYS} days, "
                f"{max(per_day[k['id']]):,} on the busiest day",
            ),
        }
        for k in page["data"]
    ]  # fmt: skip
    return site.render(
        request, "keys.html", status=status, visit=visit, keys=keys, next_cursor=page["next_cursor"],
        scopes=SCOPES, grace_choices=GRACE_CHOICES, api_base=origin_of(request).absolute(""), **context,
    )  # fmt: skip


@router.get("/dashboard/keys")
def _keys(request: Request, site: Site, visit: SignedIn) -> Response:
    return keys_page(site, request, visit)


@router.post("/dashboard/keys")
async def _create_key(request: Request, site: Site, posted: SignedInForm) -> Response:
    visit, form = posted
    try:
        check_route(visit.caller, "POST", "/v1/keys")
        issued = key_service.create_key(
            visit.caller,
            name=field(form, "name") or "",
            scopes=[str(s) for s in form.getlist("scopes")],
            allowed_ips=list_field(form, "allowed_ips"),
            expires_at=date_field(form, "expires_on"),
            mode="test" if field(form, "mode") == "test" else "live",
            now=visit.now,
            actor=visit.actor,
            ip=visit.ip,
        )
    except errors.ApiError as exc:
        return keys_page(site, request, visit, status=exc.status, error=exc.message)
    return keys_page(site, request, visit, new_key=issued.as_json(), new_key_verb="created")


@router.post("/dashboard/keys/{key_id}/rotate")
async def _rotate_key(request: Request, key_id: str, site: Site, posted: SignedInForm) -> Response:
    visit, form = posted
    try:
        check_route(visit.caller, "POST", "/v1/keys/{id}/rotate")
        grace = int(field(form, "grace_seconds") or "0")
        if not 0 <= grace <= MAX_ROTATION_GRACE_SECONDS:
            raise errors.InvalidRequest(f"grace_seconds: must be 0 to {MAX_ROTATION_GRACE_SECONDS}.")
        issued = key_service.rotate_key(
            visit.caller, key_id, grace_seconds=grace, now=visit.now, horizon=site.horizon, actor=visit.actor,
            ip=visit.ip,
        )  # fmt: skip
    except ValueError:
        return keys_page(site, request, visit, status=400, error="grace_seconds: must be a number of seconds.")
    except errors.ApiError as exc:
        return keys_page(site, request, visit, status=exc.status, error=exc.message)
    return keys_page(site, request, visit, new_key=issued.as_json(), new_key_verb="rotated")


@router.get("/dashboard/keys/{key_id}")
def _key_page(request: Request, key_id: str, site: Site, visit: SignedIn) -> Response:
    check_route(visit.caller, "GET", "/v1/keys/{id}/activity")
    chosen = next((r for r in periods.RANGES if r[0] == request.query_params.get("range")), periods.RANGES[0])
    value, words, hours, granularity = chosen
    key = key_service.get_key(visit.caller, key_id)
    start = visit.now - timedelta(hours=hours)
    activity = activity_service.for_account(visit.account.account_id, key_id, start, visit.now, granularity, visit.now)
    buckets = activity["data"]
    totals = {f: sum(int(b[f]) for b in buckets) for f in ("requests", "conversions", "units")}
    chart = charts.stacked_bar_chart(
        periods.activity_periods(buckets, granularity), periods.OUTCOME_SERIES,
        title=f"Requests of {key['name']} by outcome, last {words}", chart_id="activity", unit="requests",
        empty=f"No requests with this key in the last {words}.",
    )  # fmt: skip
    outcomes = [(s, sum(int(b[s.field]) for b in buckets)) for s in periods.OUTCOME_SERIES]
    return site.render(
        request, "key.html", visit=visit, key={**key, "state": key_state(key, visit.now)}, chart=chart,
        ranges=periods.RANGES, chosen=value, words=words, totals=totals, outcomes=outcomes, activity=activity,
    )  # fmt: skip


@router.get("/dashboard/keys/{key_id}/revoke")
def _revoke_confirmation(request: Request, key_id: str, site: Site, visit: SignedIn) -> Response:
    check_route(visit.caller, "DELETE", "/v1/keys/{id}")
    return site.render(request, "revoke.html", visit=visit, key=key_service.get_key(visit.caller, key_id))


@router.post("/dashboard/keys/{key_id}/revoke")
async def _revoke_key(request: Request, key_id: str, site: Site, posted: SignedInForm) -> Response:
    visit, _ = posted
    check_route(visit.caller, "DELETE", "/v1/keys/{id}")
    key_service.revoke_key(visit.caller, key_id, now=visit.now, horizon=site.horizon, actor=visit.actor, ip=visit.ip)
    return redirect(request, "/dashboard/keys?done=revoked")
