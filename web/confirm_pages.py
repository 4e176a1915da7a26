"""Confirmation pages for destructive actions: before a recording is deleted or a right removed, a page says
what will happen and asks once more. The pages only show; the POST endpoints they lead to still check
everything (CSRF, the actor's authority), so a confirmation page grants nothing by itself. Cancelling a
meeting already has its own page that says what happens (``plan_cancel.html``)."""

from __future__ import annotations

from aiohttp import web

from session.access.permissions import StaffAction
from web.keys import ACCESS, ACCESS_READS, RECORDINGS, SIGNER
from web.record_details import local_minutes
from web.recording_pages import _actor, _service
from web.rendering import lang_of, refused, render
from web.staff_auth import staff_of, staff_route


@staff_route(StaffAction.DELETE_RECORDING)
async def confirm_delete_recording(request: web.Request) -> web.Response:
    _service(request)
    user = staff_of(request)
    actor = await _actor(request, user)
    entries = await request.app[RECORDINGS].compliance_view(actor.org_ids)
    entry = next((e for e in entries if e.recording.id == request.match_info["id"]), None)
    if entry is None:
        raise refused(request, web.HTTPNotFound, "err.rec.not_found")
    recording = entry.recording
    topics, orgs = await request.app[ACCESS_READS].topics_and_orgs([recording.meeting_id], recording.org_ids)
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


@staff_route(StaffAction.MANAGE_ACCESS)
async def confirm_revoke(request: web.Request) -> web.Response:
    user = staff_of(request)
    try:
        staff_id, org_id = int(request.query.get("staff_id", "")), int(request.query.get("org", ""))
    except ValueError:
        raise refused(request, web.HTTPBadRequest, "err.web.invalid_link") from None
    managed = await request.app[ACCESS].managed_formidlere(actor_staff_id=user.id)
    found = next(((sid, name, org) for sid, name, org in managed if sid == staff_id and org == org_id), None)
    if found is None:
        raise refused(request, web.HTTPNotFound, "err.web.person_not_found")
    _, orgs = await request.app[ACCESS_READS].topics_and_orgs([], [org_id])
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
