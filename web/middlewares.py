"""What every response passes through: security headers, unreadable input as 400, error pages, and one mapping
from the domain's refusals to HTTP.

Handlers let a domain error (:class:`session.errors.SessionError`, :class:`recordings.errors.RecordingError`)
propagate; :func:`domain_errors` answers it with the status the refusal calls for, said in the reader's language
(:func:`web.i18n.message_of`): a page for a browser, JSON for a JSON client, plain text otherwise. Errors a form
shows beside its fields are still caught by the handler that renders the form.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from recordings.errors import (
    AccessDenied,
    InvalidRecordingRequest,
    RecordingError,
    RecordingNotAllowed,
    RecordingNotFound,
)
from session.access.errors import AccessError, AccessRefused, NotFound
from session.errors import SessionError
from web.i18n import message_of
from web.rendering import lang_of, refused, render

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; media-src 'self' blob:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
LINK_STATUS = {"link_expired": 410, "link_revoked": 410, "link_in_use": 409}
"""Link refusals that are not 403: expired or revoked links are gone, a link held by another device conflicts."""


def link_error_status(exc: SessionError) -> int:
    """403 for forged, altered or unknown links; 410 for expired or revoked; 409 for another device."""
    return LINK_STATUS.get(exc.code, 403)


def refusal_status(exc: Exception) -> int | None:
    """The HTTP status of a domain refusal, or None for an error that is no refusal (a bug: a 500)."""
    if isinstance(exc, RecordingError):
        # Another organisation's recording is as unknown as a missing one.
        if isinstance(exc, AccessDenied | RecordingNotFound):
            return 404
        if isinstance(exc, InvalidRecordingRequest | RecordingNotAllowed):
            return 403
        return 409
    if isinstance(exc, AccessError):
        # Never 403 for what does not exist for the caller: another organisation's objects are not confirmed.
        return 404 if isinstance(exc, NotFound) else 403 if isinstance(exc, AccessRefused) else 400
    if isinstance(exc, SessionError):
        return link_error_status(exc)
    return None


def _wants_json(request: web.Request) -> bool:
    accept = request.headers.get("Accept", "")
    return request.path.endswith(".json") or ("application/json" in accept and "text/html" not in accept)


@web.middleware
async def domain_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except (SessionError, RecordingError) as exc:
        status = refusal_status(exc)
        if status is None:
            raise
        message = message_of(exc, lang_of(request))
        if "text/html" in request.headers.get("Accept", ""):
            return render(request, "error.html", status=status, message=message)
        if _wants_json(request):
            code = getattr(exc, "code", type(exc).__name__)
            return web.json_response({"error": code, "message": message}, status=status)
        return web.Response(status=status, text=message)


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    response = await handler(request)
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")  # join links must never leak via Referer
    response.headers.setdefault("Permissions-Policy", "camera=(self), microphone=(self), geolocation=()")
    if request.path.startswith("/j/") or request.path.startswith("/staff"):
        response.headers.setdefault("Cache-Control", "no-store")
    return response


@web.middleware
async def bad_input(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Input no handler can read (a form that is not UTF-8, a number too large for the database) is the client's
    error: 400 with a reason, never a 500 and never a stack trace in the log."""
    try:
        return await handler(request)
    except UnicodeDecodeError:
        raise refused(request, web.HTTPBadRequest, "err.web.form_not_utf8") from None
    except OverflowError:
        raise refused(request, web.HTTPBadRequest, "err.web.number_too_large") from None


@web.middleware
async def error_pages(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status in (403, 404, 410) and "text/html" in request.headers.get("Accept", "") and exc.text:
            return render(request, "error.html", status=exc.status, message=exc.text)
        raise
