"""The usage report as a CSV download."""

from __future__ import annotations

import csv
import io
from typing import Any

from fastapi.responses import Response


def usage_csv(report: dict[str, Any]) -> Response:
    """One row a month, then one a day, of a usage report (filegate.accounts.service.usage_report)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["period", "kind", "conversions"])
    writer.writerows([m["month"], "month", m["conversions"]] for m in report["months"])
    writer.writerows([d["date"], "day", d["conversions"]] for d in report["days"])
    name = f"filegate-usage-{report['from']}-to-{report['to']}.csv"
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
