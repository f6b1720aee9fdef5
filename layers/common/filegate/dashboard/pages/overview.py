"""The overview: the plan, this month's use against its limit, and the last 30 days."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request
from fastapi.responses import Response

from filegate import errors
from filegate.accounts import service as account_service
from filegate.dashboard import charts, periods
from filegate.dashboard.origin import origin_of
from filegate.dashboard.rendering import Site
from filegate.dashboard.visits import SignedIn
from filegate.keys import service as key_service
from filegate.keys.access import check_route
from filegate.tiers import tier

router = APIRouter()


@router.get("/dashboard")
def _overview(request: Request, site: Site, visit: SignedIn) -> Response:
    plan = tier(visit.account.tier)
    try:
        check_route(visit.caller, "GET", "/v1/usage")
        me = account_service.entitlements(visit.caller, visit.now)
        first_day = (visit.now - timedelta(days=29)).date()
        report = account_service.usage_report(
            visit.caller, first_day.strftime("%Y-%m"), visit.now.strftime("%Y-%m"), visit.now
        )
    except errors.ApiError as exc:
        return site.page_error(request, visit, "overview.html", exc, plan=plan)
    per_day = {d["date"]: int(d["conversions"]) for d in report["days"]}
    chart = charts.bar_chart(
        periods.conversion_days(per_day, periods.days_between(first_day, visit.now.date())),
        title="Conversions per day, last 30 days", chart_id="last30",
        empty="No conversions in the last 30 days yet.",
    )  # fmt: skip
    usage = me["usage"]
    limit = me["limits"]["conversions_per_month"]
    has_key = bool(key_service.list_keys(visit.caller, limit=1, cursor=None)["data"])
    return site.render(
        request, "overview.html", visit=visit, plan=plan, usage=usage, limits=me["limits"], chart=chart,
        used_percent=min(100, round(100 * usage["conversions"] / limit)) if limit else 0,
        has_key=has_key, api_base=origin_of(request).absolute(""),
    )  # fmt: skip
