"""Usage: conversions per month and per day, and the same as CSV."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from filegate import errors
from filegate.accounts import service as account_service
from filegate.dashboard import charts, periods
from filegate.dashboard.csv_export import usage_csv as usage_csv_response
from filegate.dashboard.rendering import Site
from filegate.dashboard.visits import SignedIn, Visit
from filegate.keys.access import check_route

router = APIRouter()


def usage_report(request: Request, visit: Visit) -> dict[str, Any]:
    check_route(visit.caller, "GET", "/v1/usage")
    start = request.query_params.get("from")
    if start is None:
        first = (visit.now.replace(day=1) - timedelta(days=150)).replace(day=1)  # this month and 5 before
        start = first.strftime("%Y-%m")
    return account_service.usage_report(visit.caller, start, request.query_params.get("to"), visit.now)


@router.get("/dashboard/usage")
def _usage(request: Request, site: Site, visit: SignedIn) -> Response:
    try:
        report = usage_report(request, visit)
    except errors.ApiError as exc:
        return site.page_error(request, visit, "usage.html", exc, report=None)
    per_day = {d["date"]: int(d["conversions"]) for d in report["days"]}
    first = datetime.strptime(str(report["from"]), "%Y-%m").date()
    last = min(
        visit.now.date(),
        (datetime.strptime(str(report["to"]), "%Y-%m") + timedelta(days=31)).replace(day=1).date() - timedelta(days=1),
    )
    return site.render(
        request, "usage.html", visit=visit, report=report,
        month_chart=charts.bar_chart(
            periods.months(report["months"]), title="Conversions per month", chart_id="months",
            empty="No conversions in these months yet.",
        ),
        day_chart=charts.bar_chart(
            periods.conversion_days(per_day, periods.days_between(first, max(first, last))),
            title="Conversions per day", chart_id="days", empty="No conversions on these days yet.",
        ),
    )  # fmt: skip


@router.get("/dashboard/usage.csv")
def _usage_csv(request: Request, visit: SignedIn) -> Response:
    return usage_csv_response(usage_report(request, visit))
