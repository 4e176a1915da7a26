"""The compliance officer's audit page and its exports, built on ``web.audit_view`` (the caller checks the role)."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncConnection

from session.access.isolation import audit_entries_for
from web.app import RECORDS
from web.audit_view import (
    AuditFilter,
    FilterInvalid,
    known_actions,
    matches,
    parse_filter,
    people_and_units,
    readable_rows,
    to_csv,
    to_jsonl,
)
from web.pages import StaffUser, lang_of, render

READ_LIMIT = 1000


async def audit_response(request: web.Request, user: StaffUser, conn: AsyncConnection) -> web.Response:
    """The page (or ``?format=csv|jsonl``) for the entries in the user's audit scope that match the filters."""
    lang = lang_of(request)
    try:
        wanted = parse_filter(request.query, lang)
        error = None
    except FilterInvalid as exc:
        wanted, error = AuditFilter(), str(exc)
    views = await audit_entries_for(
        conn, request.app[RECORDS].audit, user.id, meeting_id=wanted.meeting, limit=READ_LIMIT
    )
    everyone, _ = await people_and_units(conn, (v.record for v in views))
    shown = [v for v in views if matches(v, wanted)]
    people, units = await people_and_units(conn, (v.record for v in shown))
    rows = readable_rows(shown, people | everyone, units, lang)
    export = request.query.get("format")
    if export in ("csv", "jsonl") and error is None:
        body = to_csv(rows) if export == "csv" else to_jsonl(rows)
        kind = "text/csv" if export == "csv" else "application/x-ndjson"
        return web.Response(
            text=body,
            content_type=kind,
            charset="utf-8",
            headers={"Content-Disposition": f'attachment; filename="revisjonslogg.{export}"'},
        )
    choices = sorted(((sid, p.name) for sid, p in everyone.items()), key=lambda x: x[1])
    return render(
        request,
        "audit.html",
        status=400 if error else 200,
        user=user,
        rows=rows,
        wanted=wanted,
        error=error,
        people=choices,
        actions=known_actions(lang),
    )
