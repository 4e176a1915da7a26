"""Recordings for staff: list, play in the browser (decrypted on the fly, every viewing audited), delete, confirm
that no copy is held; and the compliance officer's view of every recording's deletion state, overdue first.

There is no plain download. Every lookup is scoped to the caller's organisations: another organisation's
recording answers 404 like a missing one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aiohttp import web

from recordings.access import Playback, StaffActor
from recordings.retention import DeletionTrigger
from recordings.store import ComplianceEntry
from session.access.permissions import StaffAction
from session.subject_refs import staff_ref
from web.keys import ACCESS_READS, RECORDINGS, SIGNER
from web.record_details import local_minutes
from web.rendering import lang_of, refused, render
from web.staff_auth import StaffUser, form_of, staff_of, staff_route

CHUNK_LIMIT = 4 * 1024 * 1024  # one Range response at most; the browser asks for the rest


def _service(request: web.Request) -> object:
    if RECORDINGS not in request.app:
        raise refused(request, web.HTTPNotFound, "err.rec.not_configured")
    return request.app[RECORDINGS]


async def _actor(request: web.Request, user: StaffUser) -> StaffActor:
    return StaffActor(staff_ref(user.id), await request.app[ACCESS_READS].org_scope(user.id))


async def _party(request: web.Request, user: StaffUser, actor: StaffActor) -> int:
    """The party of the recording that this user answers for: their own organisation when it took part, else the
    one above it in their scope (a municipality's staff answer for its unit)."""
    row = await request.app[RECORDINGS].find(request.match_info["id"][:64])
    if row is None:
        return user.organisation_id
    if user.organisation_id in row.org_ids:
        return user.organisation_id
    return next((o for o in row.org_ids if o in actor.org_ids), user.organisation_id)


async def _readable(request: web.Request, entries: Sequence[ComplianceEntry]) -> dict[str, Any]:
    """Topics, organisation names and a local-time formatter for the recordings' templates."""
    topics, orgs = await request.app[ACCESS_READS].topics_and_orgs(
        [e.recording.meeting_id for e in entries], [o for e in entries for o in e.recording.org_ids]
    )
    lang = lang_of(request)
    return {"topics": topics, "orgs": orgs, "when": lambda moment: local_minutes(moment, lang)}


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


@staff_route(StaffAction.LIST_RECORDINGS)
async def recordings_page(request: web.Request) -> web.Response:
    _service(request)
    user = staff_of(request)
    actor = await _actor(request, user)
    entries = await request.app[RECORDINGS].compliance_view(actor.org_ids)
    return render(request, "recordings.html", user=user, entries=entries, compliance=False,
                  csrf=request.app[SIGNER].csrf_token(user.session), **await _readable(request, entries))  # fmt: skip


@staff_route(StaffAction.READ_RECORDING_STATES)
async def compliance_page(request: web.Request) -> web.Response:
    _service(request)
    user = staff_of(request)
    scope = await request.app[ACCESS_READS].audit_scope(user.id)
    if not scope:
        raise web.HTTPForbidden(text="Bare personvernombudet har denne siden.")
    entries = await request.app[RECORDINGS].compliance_view(scope)
    return render(request, "recordings.html", user=user, entries=entries, compliance=True,
                  csrf=request.app[SIGNER].csrf_token(user.session), **await _readable(request, entries))  # fmt: skip


@staff_route(StaffAction.PLAY_RECORDING)
async def media(request: web.Request) -> web.StreamResponse:
    """The WebM, decrypted on the fly for one Range at a time; the first request of a viewing is audited."""
    _service(request)
    user = staff_of(request)
    actor = await _actor(request, user)
    try:
        start = request.http_range.start or 0
        stop = request.http_range.stop
    except ValueError:
        raise web.HTTPRequestRangeNotSatisfiable() from None
    playback = await request.app[RECORDINGS].open_playback(request.match_info["id"], actor, audit_access=start == 0)
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


@staff_route(StaffAction.LIST_RECORDINGS)
async def recording_page(request: web.Request) -> web.Response:
    _service(request)
    user = staff_of(request)
    actor = await _actor(request, user)
    service = request.app[RECORDINGS]
    entries = await service.compliance_view(actor.org_ids)
    entry = next((e for e in entries if e.recording.id == request.match_info["id"]), None)
    if entry is None:
        raise refused(request, web.HTTPNotFound, "err.rec.not_found")
    custody = await service.open_custody(entry.recording.id)
    return render(request, "recording.html", user=user, entry=entry, my_org=user.organisation_id, custody=custody,
                  export_allowed=service.options.export_allowed, **await _readable(request, [entry]),
                  csrf=request.app[SIGNER].csrf_token(user.session))  # fmt: skip


@staff_route(StaffAction.EXPORT_RECORDING)
async def export(request: web.Request) -> web.StreamResponse:
    """An explicit act with a reason: a custody record names the organisation that now holds a copy."""
    _service(request)
    user, form = staff_of(request), form_of(request)
    actor = await _actor(request, user)
    custody, playback = await request.app[RECORDINGS].export(
        request.match_info["id"], actor, org_id=await _party(request, user, actor), reason=form.get("reason", "")
    )
    disposition = {"Content-Disposition": f"attachment; filename=opptak-{custody.id}.webm"}
    return await _stream(request, playback, 0, playback.size, status=200, headers=disposition)


@staff_route(StaffAction.EXPORT_RECORDING)
async def close_custody(request: web.Request) -> web.Response:
    """The exported copy has been destroyed; until then the organisation cannot confirm it holds none."""
    _service(request)
    user = staff_of(request)
    actor = await _actor(request, user)
    record = await request.app[RECORDINGS].close_custody(request.match_info["id"], actor)
    raise web.HTTPFound(f"/staff/recordings/{record.recording_id}")


@staff_route(StaffAction.DELETE_RECORDING)
async def delete(request: web.Request) -> web.Response:
    _service(request)
    user = staff_of(request)
    actor = await _actor(request, user)
    await request.app[RECORDINGS].request_deletion(request.match_info["id"], trigger=DeletionTrigger.HOST, by=actor)
    raise web.HTTPFound(f"/staff/recordings/{request.match_info['id']}")


@staff_route(StaffAction.CONFIRM_DELETION)
async def confirm(request: web.Request) -> web.Response:
    """The user's own organisation confirms it holds no copy (custody records must be closed first)."""
    _service(request)
    user = staff_of(request)
    actor = await _actor(request, user)
    party = await _party(request, user, actor)
    await request.app[RECORDINGS].confirm_no_copy(request.match_info["id"], org_id=party, by=actor)
    raise web.HTTPFound(f"/staff/recordings/{request.match_info['id']}")


@staff_route(StaffAction.READ_CERTIFICATE)
async def certificate(request: web.Request) -> web.Response:
    _service(request)
    user = staff_of(request)
    actor = await _actor(request, user)
    text = await request.app[RECORDINGS].certificate(request.match_info["id"], actor.org_ids)
    if text is None:
        raise refused(request, web.HTTPNotFound, "err.web.certificate_not_found")
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
