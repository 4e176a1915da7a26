"""Recordings for staff: list, play in the browser (decrypted on the fly, every viewing audited), delete, confirm
that no copy is held; and the compliance officer's view of every recording's deletion state, overdue first.

There is no plain download. Every lookup is scoped to the caller's organisations: another organisation's
recording answers 404 like a missing one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aiohttp import web

from recordings import store
from recordings.access import Playback, StaffActor
from recordings.errors import (
    AccessDenied,
    InvalidRecordingRequest,
    RecordingError,
    RecordingNotAllowed,
    RecordingNotFound,
)
from recordings.retention import DeletionTrigger
from recordings.store import ComplianceEntry
from session.access.organisations import audit_scope, org_scope
from session.access.permissions import StaffAction
from session.subject_refs import staff_ref
from web.app import ENGINE, RECORDINGS, SIGNER
from web.pages import StaffUser, check_csrf, lang_of, render, require
from web.record_details import local_minutes, topics_and_orgs

CHUNK_LIMIT = 4 * 1024 * 1024  # one Range response at most; the browser asks for the rest


def _service(request: web.Request) -> object:
    if RECORDINGS not in request.app:
        raise web.HTTPNotFound(text="Opptak er ikke satt opp på denne tjenesten.")
    return request.app[RECORDINGS]


async def _actor(request: web.Request, user: StaffUser) -> StaffActor:
    async with request.app[ENGINE].connect() as conn:
        return StaffActor(staff_ref(user.id), await org_scope(conn, user.id))


async def _party(request: web.Request, user: StaffUser, actor: StaffActor) -> int:
    """The party of the recording that this user answers for: their own organisation when it took part, else the
    one above it in their scope (a municipality's staff answer for its unit)."""
    async with request.app[ENGINE].connect() as conn:
        row = await store.get_recording(conn, request.match_info["id"][:64])
    if row is None:
        return user.organisation_id
    if user.organisation_id in row.org_ids:
        return user.organisation_id
    return next((o for o in row.org_ids if o in actor.org_ids), user.organisation_id)


async def _readable(request: web.Request, entries: Sequence[ComplianceEntry]) -> dict[str, Any]:
    """Topics, organisation names and a local-time formatter for the recordings' templates."""
    async with request.app[ENGINE].connect() as conn:
        topics, orgs = await topics_and_orgs(
            conn, [e.recording.meeting_id for e in entries], [o for e in entries for o in e.recording.org_ids]
        )
    lang = lang_of(request)
    return {"topics": topics, "orgs": orgs, "when": lambda moment: local_minutes(moment, lang)}


def _http_error(exc: RecordingError) -> web.HTTPException:
    """Another organisation's recording is as unknown as a missing one; refusals say why, in Norwegian."""
    if isinstance(exc, AccessDenied | RecordingNotFound):
        return web.HTTPNotFound(text=str(exc))
    if isinstance(exc, InvalidRecordingRequest | RecordingNotAllowed):
        return web.HTTPForbidden(text=str(exc))
    return web.HTTPConflict(text=str(exc))


async def _stream(
    request: web.Request, playback: Playback, start: int, end: int, *, status: int, headers: dict[str, str]
) -> web.StreamResponse:
    """Decrypt ``[start, end)`` chunk by chunk into the response; the playback is closed whatever happens."""
    try:
        response = web.StreamResponse(
            status=status, headers={"Content-Type": playback.content_type, "Cache-Control": "no-store", **headers}
        )
        response.content_length = max(0, end - start)
        await response.prepare(request)
        async for block in playback.iter_range(start, end):
            await response.write(block)
        await response.write_eof()
        return response
    finally:
        playback.close()


async def recordings_page(request: web.Request) -> web.Response:
    _service(request)
    user = await require(request, StaffAction.LIST_RECORDINGS)
    actor = await _actor(request, user)
    entries = await request.app[RECORDINGS].compliance_view(actor.org_ids)
    return render(request, "recordings.html", user=user, entries=entries, compliance=False,
                  csrf=request.app[SIGNER].csrf_token(user.session), **await _readable(request, entries))  # fmt: skip


async def compliance_page(request: web.Request) -> web.Response:
    _service(request)
    user = await require(request, StaffAction.READ_RECORDING_STATES)
    async with request.app[ENGINE].connect() as conn:
        scope = await audit_scope(conn, user.id)
    if not scope:
        raise web.HTTPForbidden(text="Bare personvernombudet har denne siden.")
    entries = await request.app[RECORDINGS].compliance_view(scope)
    return render(request, "recordings.html", user=user, entries=entries, compliance=True,
                  csrf=request.app[SIGNER].csrf_token(user.session), **await _readable(request, entries))  # fmt: skip


async def media(request: web.Request) -> web.StreamResponse:
    """The WebM, decrypted on the fly for one Range at a time; the first request of a viewing is audited."""
    _service(request)
    user = await require(request, StaffAction.PLAY_RECORDING)
    actor = await _actor(request, user)
    try:
        start = request.http_range.start or 0
        stop = request.http_range.stop
    except ValueError:
        raise web.HTTPRequestRangeNotSatisfiable() from None
    try:
        playback = await request.app[RECORDINGS].open_playback(request.match_info["id"], actor, audit_access=start == 0)
    except RecordingError as exc:
        raise _http_error(exc) from None
    size = playback.size
    end = min(size, stop if stop is not None else size, start + CHUNK_LIMIT)
    if start >= size and size > 0:
        playback.close()
        raise web.HTTPRequestRangeNotSatisfiable(headers={"Content-Range": f"bytes */{size}"})
    headers = {"Accept-Ranges": "bytes", "Content-Disposition": "inline"}
    if request.headers.get("Range"):
        headers["Content-Range"] = f"bytes {start}-{max(start, end - 1)}/{size}"
    return await _stream(
        request, playback, start, end, status=206 if "Content-Range" in headers else 200, headers=headers
    )


async def recording_page(request: web.Request) -> web.Response:
    _service(request)
    user = await require(request, StaffAction.LIST_RECORDINGS)
    actor = await _actor(request, user)
    service = request.app[RECORDINGS]
    entries = await service.compliance_view(actor.org_ids)
    entry = next((e for e in entries if e.recording.id == request.match_info["id"]), None)
    if entry is None:
        raise web.HTTPNotFound(text="Fant ikke opptaket.")
    async with request.app[ENGINE].connect() as conn:
        custody = [c for c in await store.custody_records(conn, entry.recording.id) if c.closed_at is None]
    return render(request, "recording.html", user=user, entry=entry, my_org=user.organisation_id, custody=custody,
                  export_allowed=service.options.export_allowed, **await _readable(request, [entry]),
                  csrf=request.app[SIGNER].csrf_token(user.session))  # fmt: skip


async def export(request: web.Request) -> web.StreamResponse:
    """An explicit act with a reason: a custody record names the organisation that now holds a copy."""
    _service(request)
    user = await require(request, StaffAction.EXPORT_RECORDING)
    form = await check_csrf(request, user)
    actor = await _actor(request, user)
    try:
        custody, playback = await request.app[RECORDINGS].export(
            request.match_info["id"], actor, org_id=await _party(request, user, actor), reason=form.get("reason", "")
        )
    except RecordingError as exc:
        raise _http_error(exc) from None
    disposition = {"Content-Disposition": f"attachment; filename=opptak-{custody.id}.webm"}
    return await _stream(request, playback, 0, playback.size, status=200, headers=disposition)


async def close_custody(request: web.Request) -> web.Response:
    """The exported copy has been destroyed; until then the organisation cannot confirm it holds none."""
    _service(request)
    user = await require(request, StaffAction.EXPORT_RECORDING)
    await check_csrf(request, user)
    actor = await _actor(request, user)
    try:
        record = await request.app[RECORDINGS].close_custody(request.match_info["id"], actor)
    except RecordingError as exc:
        raise _http_error(exc) from None
    raise web.HTTPFound(f"/staff/recordings/{record.recording_id}")


async def delete(request: web.Request) -> web.Response:
    _service(request)
    user = await require(request, StaffAction.DELETE_RECORDING)
    await check_csrf(request, user)
    actor = await _actor(request, user)
    try:
        await request.app[RECORDINGS].request_deletion(request.match_info["id"], trigger=DeletionTrigger.HOST, by=actor)
    except RecordingError as exc:
        raise _http_error(exc) from None
    raise web.HTTPFound(f"/staff/recordings/{request.match_info['id']}")


async def confirm(request: web.Request) -> web.Response:
    """The user's own organisation confirms it holds no copy (custody records must be closed first)."""
    _service(request)
    user = await require(request, StaffAction.CONFIRM_DELETION)
    await check_csrf(request, user)
    actor = await _actor(request, user)
    try:
        party = await _party(request, user, actor)
        await request.app[RECORDINGS].confirm_no_copy(request.match_info["id"], org_id=party, by=actor)
    except RecordingError as exc:
        raise _http_error(exc) from None
    raise web.HTTPFound(f"/staff/recordings/{request.match_info['id']}")


async def certificate(request: web.Request) -> web.Response:
    _service(request)
    user = await require(request, StaffAction.READ_CERTIFICATE)
    actor = await _actor(request, user)
    try:
        text = await request.app[RECORDINGS].certificate(request.match_info["id"], actor.org_ids)
    except RecordingError as exc:
        raise _http_error(exc) from None
    if text is None:
        raise web.HTTPNotFound(text="Fant ikke slettebeviset.")
    return web.Response(text=text, content_type="application/json",
                        headers={"Content-Disposition": "attachment; filename=slettebevis.json"})  # fmt: skip


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/staff/recordings", recordings_page)
    app.router.add_get("/staff/compliance", compliance_page)
    app.router.add_get("/staff/recordings/{id}", recording_page)
    app.router.add_get("/staff/recordings/{id}/media", media)
    app.router.add_get("/staff/recordings/{id}/certificate", certificate)
    app.router.add_post("/staff/recordings/{id}/delete", delete)
    app.router.add_post("/staff/recordings/{id}/confirm", confirm)
    app.router.add_post("/staff/recordings/{id}/export", export)
    app.router.add_post("/staff/custody/{id}/close", close_custody)
