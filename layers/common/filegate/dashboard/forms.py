"""Reading the dashboard's form fields."""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.datastructures import FormData

from filegate import errors


def field(form: FormData, name: str) -> str | None:
    value = form.get(name)
    return value if isinstance(value, str) else None


def list_field(form: FormData, name: str) -> list[str]:
    """A textarea of entries separated by commas, spaces or new lines."""
    raw = field(form, name) or ""
    return [part for part in raw.replace(",", " ").split() if part]


def date_field(form: FormData, name: str) -> datetime | None:
    """A date input (YYYY-MM-DD) as the start of that day, UTC; empty means none."""
    raw = (field(form, name) or "").strip()
    if not raw:
        return None
    try:
        return datetime.strptime(raw, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError as exc:
        raise errors.InvalidRequest(f"{name}: must be a date, YYYY-MM-DD.") from exc
