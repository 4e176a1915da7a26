"""Confirmation pages for destructive actions: before a recording is deleted or a right removed, a page says
what will happen and asks once more. The pages only show; the POST endpoints they lead to still check
everything (CSRF, the actor's authority), so a confirmation page grants nothing by itself. Cancelling a
meeting already has its own page that says what happens (``plan_cancel.html``)."""

from __future__ import annotations

from aiohttp import web

from session.access.permissions import StaffAction
from web.app import ACCESS, ENGINE, RECORDINGS, SIGNER
from web.pages import lang_of, render, require
from web.record_details import local_minutes, topics_and_orgs
from web.recording_pages import _actor, _service


async def confirm_delete_recording(request: web.Request) -> web.Response:
    _service(request)
    user = await require(request, StaffAction.DELETE_RECORDING)
    actor = await _actor(request, user)
    entries = await request.app[RECORDINGS].compliance_view(actor.org_ids)
    entry = next((e for e in entries if e.recording.id == request.match_info["id"]), None)
    if entry is None:
        raise web.HTTPNotFound(text="Fant ikke opptaket.")
    recording = entry.recording
    async with request.app[ENGINE].connect() as conn:
        topics, orgs = await topics_and_orgs(conn, [recording.meeting_id], recording.org_ids)
    lang = lang_of(request)
    facts = [
        ("recs.topic", topics.get(recording.meeting_id, "–")),
        ("recs.created", local_minutes(recording.created_at, lang)),
        ("recs.orgs", ", ".join(orgs.get(o, str(o)) for o in recording.org_ids)),
    ]
    return render(
        request,
        "confirm.html",
        user=user,
        title_key="confirm.delete.title",
        facts=facts,
        consequences=[
            "confirm.delete.key",
            "confirm.delete.file",
            "confirm.delete.certificate",
            "confirm.delete.both",
            "confirm.final",
        ],
        action=f"/staff/recordings/{recording.id}/delete",
        hidden={},
        submit_key="confirm.delete.submit",
        back=f"/staff/recordings/{recording.id}",
        csrf=request.app[SIGNER].csrf_token(user.session),
    )


async def confirm_revoke(request: web.Request) -> web.Response:
    user = await require(request, StaffAction.MANAGE_ACCESS)
    try:
        staff_id, org_id = int(request.query.get("staff_id", "")), int(request.query.get("org", ""))
    except ValueError:
        raise web.HTTPBadRequest(text="Ugyldig lenke.") from None
    managed = await request.app[ACCESS].managed_formidlere(actor_staff_id=user.id)
    found = next(((sid, name, org) for sid, name, org in managed if sid == staff_id and org == org_id), None)
    if found is None:
        raise web.HTTPNotFound(text="Fant ikke personen.")
    async with request.app[ENGINE].connect() as conn:
        _, orgs = await topics_and_orgs(conn, [], [org_id])
    return render(
        request,
        "confirm.html",
        user=user,
        title_key="confirm.revoke.title",
        facts=[("confirm.revoke.person", found[1]), ("confirm.revoke.unit", orgs.get(org_id, str(org_id)))],
        consequences=["confirm.revoke.right", "confirm.revoke.calls", "confirm.revoke.logout", "confirm.revoke.audit"],
        action="/staff/access/revoke",
        hidden={"staff_id": str(staff_id), "org": str(org_id)},
        submit_key="confirm.revoke.submit",
        back="/staff/access",
        csrf=request.app[SIGNER].csrf_token(user.session),
    )


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/staff/recordings/{id}/delete", confirm_delete_recording)
    app.router.add_get("/staff/access/revoke", confirm_revoke)
