"""How the dashboard answers what went wrong: a page, never JSON (docs/api.md §7)."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from filegate import errors
from filegate.dashboard.csrf import Forbidden
from filegate.dashboard.rendering import dashboard_of, redirect
from filegate.dashboard.visits import SignInRequired
from filegate.observability import logger
from filegate.web import request_id


async def sign_in_required(request: Request, exc: Exception) -> Response:
    return redirect(request, "/dashboard/login")


async def forbidden(request: Request, exc: Exception) -> Response:
    return dashboard_of(request).render(request, "error.html", status=403, title="Request refused", message=str(exc))


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    status = 404 if exc.status_code in (404, 405) else 400
    message = "There is no such page." if status == 404 else "The request is malformed."
    title = "Not found" if status == 404 else "Bad request"
    return dashboard_of(request).render(request, "error.html", status=status, title=title, message=message)


async def api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, errors.ApiError)
    return dashboard_of(request).render(
        request, "error.html", status=exc.status, title="Not possible", message=exc.message
    )


async def unexpected(request: Request, exc: Exception) -> Response:
    logger.exception("unhandled dashboard error", extra={"request_id": request_id(request)})
    message = "An internal error occurred; it has been logged."
    return dashboard_of(request).render(
        request, "error.html", status=500, title="Something went wrong", message=message
    )


def install(app: FastAPI) -> None:
    app.add_exception_handler(SignInRequired, sign_in_required)
    app.add_exception_handler(Forbidden, forbidden)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(errors.ApiError, api_error)
    app.add_exception_handler(Exception, unexpected)
