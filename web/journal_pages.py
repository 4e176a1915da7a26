"""After and during a meeting: the technician's repair diagnosis and the summary the host confirms for the
journal, exported as printable HTML and as JSON.

Roles present are read from the meeting's audit entries (the roster confirmations and the off-camera changes),
consents from the consent ledger; the host checks them, adds the outcome and the next contact, and confirms.
A confirmed summary is a journal record and is not replaced. Nothing here holds a name.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from aiohttp import web

from privacy.records.audit_record import AuditRecord
from privacy.user_text import Message, Text
from session.access.permissions import StaffAction
from session.call.roster import OFF_CAMERA_ROLES
from session.meetings import Meeting
from session.planning.errors import PlanningError
from session.planning.nb_format import format_clock
from session.planning.plan import OSLO
from session.planning.repair import RepairDecision, parse_repair_form
from session.planning.summary import (
    MAX_COUNT,
    ConsentEntry,
    Presence,
    build_summary,
    summary_html,
    summary_to_json,
)
from session.roles import Role
from web.i18n import voice
from web.keys import CLOCK, JOURNAL, PLANNING, RECORDS
from web.rendering import lang_of, refused, render
from web.staff_auth import StaffUser, staff_of, staff_route
from web.staff_meeting import csrf_of, form_lists, staff_meeting

PART_ROWS = 4
_STYLE = re.compile(r"<style>(.*?)</style>", re.DOTALL)


# --- repair diagnosis ----------------------------------------------------------------------------------------


async def _repair_page(
    request: web.Request,
    user: StaffUser,
    meeting: Meeting,
    values: Mapping[str, Any],
    *,
    problems: Mapping[str, Message] | None = None,
    status: int = 200,
) -> web.Response:
    journal = request.app[JOURNAL]
    diagnoses = await journal.repairs(meeting.id)
    planned = await journal.planned_serials(meeting.id)
    return render(
        request,
        "repair.html",
        status=status,
        user=user,
        csrf=csrf_of(request, user),
        meeting=meeting,
        values=values,
        problems=dict(problems or {}),
        decisions=[d.value for d in RepairDecision],
        diagnoses=diagnoses,
        planned_serials=planned,
        saved=request.query.get("lagret") == "1",
    )


def _repair_values(form: Mapping[str, list[str]], serials: Iterable[str] = ()) -> dict[str, Any]:
    def first(key: str) -> str:
        return (form.get(key) or [""])[0]

    columns = [form.get(k, []) for k in ("part_number", "part_description", "part_quantity")]
    count = max(PART_ROWS, *(len(c) for c in columns))
    parts = [tuple(c[i] if i < len(c) else "" for c in columns) for i in range(count)]
    return {
        "serial_number": first("serial_number") or next(iter(serials), ""),
        "fault_description": first("fault_description"),
        "decision": first("decision"),
        "next_step": first("next_step"),
        "parts": parts,
    }


@staff_route(StaffAction.WRITE_REPAIR)
async def repair_form(request: web.Request) -> web.Response:
    user = staff_of(request)
    meeting = await staff_meeting(request, user)
    planned = await request.app[JOURNAL].planned_serials(meeting.id)
    return await _repair_page(request, user, meeting, _repair_values({}, planned))


@staff_route(StaffAction.WRITE_REPAIR)
async def repair_save(request: web.Request) -> web.Response:
    user = staff_of(request)
    meeting = await staff_meeting(request, user)
    form = await form_lists(request)
    try:
        diagnosis = parse_repair_form(form)
    except PlanningError as exc:
        return await _repair_page(request, user, meeting, _repair_values(form), problems=exc.problems, status=400)
    await request.app[JOURNAL].save_repair(meeting.id, diagnosis, recorded_by=user.id)
    raise web.HTTPSeeOther(f"/staff/meetings/{meeting.id}/reparasjon?lagret=1")


# --- summary -------------------------------------------------------------------------------------------------


def presence_from_audit(records: Iterable[AuditRecord]) -> tuple[Counter[str], Counter[str]]:
    """The most people at once per role, on camera and off camera, from a meeting's audit records.

    A roster confirmation lists the roles of everyone in the call followed by those present off camera; the
    off-camera ones are known from the ``roster.change`` entries before it, so the rest were on camera. Changes
    before the first confirmation are corrections of the list; people added after it were there. People let in
    from the lobby count as on camera.
    """
    off_now: Counter[str] = Counter()
    on_max: Counter[str] = Counter()
    off_max: Counter[str] = Counter()
    confirmed = False
    for record in records:
        details = record.details
        if record.action == "roster.change" and isinstance(details.get("role"), str):
            role = str(details["role"])
            if details.get("change") == "added":
                off_now[role] += 1
            elif details.get("change") == "removed" and off_now[role] > 0:
                off_now[role] -= 1
            if confirmed:
                off_max[role] = max(off_max[role], off_now[role])
        elif record.action in ("roster.confirmed", "roster.confirm"):
            confirmed = True
            listed = details.get("roles")
            roles = Counter(r for r in listed if isinstance(r, str)) if isinstance(listed, list) else Counter()
            for role, count in (roles - off_now).items():
                on_max[role] = max(on_max[role], count)
            for role, count in off_now.items():
                off_max[role] = max(off_max[role], count)
        elif record.action == "lobby.admit" and isinstance(details.get("participant_role"), str):
            role = str(details["participant_role"])
            on_max[role] = max(on_max[role], 1)
    return +on_max, +off_max


def _consent_rows(entries: Iterable[ConsentEntry]) -> list[dict[str, Any]]:
    """The consents as the page lists them (labels are looked up in the page's language)."""
    return [
        {
            "role": e.subject_role,
            "giver": e.giver.value,
            "form": e.form.value,
            "scopes": [(scope.value, scope in e.withdrawn_scopes) for scope in sorted(e.scopes)],
            "purpose": e.purpose,
            "time": format_clock(e.given_at.astimezone(OSLO)),
        }
        for e in entries
    ]


def _presence_rows(on: Mapping[str, int], off: Mapping[str, int]) -> list[dict[str, Any]]:
    rows = [{"name": f"on_{r.value}", "role": r.value, "count": on.get(r.value, 0), "on_camera": True} for r in Role]
    rows += [{"name": f"off_{r}", "role": r, "count": off.get(r, 0), "on_camera": False} for r in OFF_CAMERA_ROLES]
    return rows


def _presence_from_form(form: Mapping[str, list[str]]) -> tuple[list[Presence], dict[str, int], dict[str, int]]:
    on: dict[str, int] = {}
    off: dict[str, int] = {}
    present: list[Presence] = []
    for prefix, roles, target in (("on_", [r.value for r in Role], on), ("off_", list(OFF_CAMERA_ROLES), off)):
        for role in roles:
            raw = (form.get(prefix + role) or ["0"])[0].strip() or "0"
            count = int(raw) if raw.isascii() and raw.isdigit() else -1
            target[role] = count
            if count:
                present.append(Presence(role, prefix == "on_", count))
    return present, on, off


async def _summary_page(
    request: web.Request,
    user: StaffUser,
    meeting: Meeting,
    values: Mapping[str, Any],
    *,
    problems: Mapping[str, Message] | None = None,
    status: int = 200,
) -> web.Response:
    journal = request.app[JOURNAL]
    times = await journal.meeting_times(meeting)
    repairs = await journal.repairs(meeting.id)
    return render(
        request,
        "summary.html",
        status=status,
        user=user,
        csrf=csrf_of(request, user),
        meeting=meeting,
        values=values,
        problems=dict(problems or {}),
        consents=_consent_rows(await journal.consents(meeting.id)),
        equipment=list(dict.fromkeys([*times.serials, *(r.serial_number for r in repairs)])),
        repair=repairs[-1] if repairs else None,
        max_count=MAX_COUNT,
        started=times.start,
        ended=times.end,
    )


@staff_route(StaffAction.READ_SUMMARY)
async def summary_view(request: web.Request) -> web.Response:
    user = staff_of(request)
    meeting = await staff_meeting(request, user)
    confirmed = await request.app[JOURNAL].summary(meeting.id)
    if confirmed is not None:
        return render(request, "summary_done.html", user=user, meeting=meeting, summary=confirmed)
    entries = await request.app[RECORDS].audit.entries(org_ids=None, meeting_id=meeting.id, limit=1000)
    on, off = presence_from_audit(view.record for view in entries)
    values: dict[str, Any] = {"topic": meeting.topic, "outcome": "", "next_contact": "", "next_contact_on": ""}
    values["presence"] = _presence_rows(on, off)
    return await _summary_page(request, user, meeting, values)


@staff_route(StaffAction.WRITE_SUMMARY)
async def summary_confirm(request: web.Request) -> web.Response:
    user = staff_of(request)
    meeting = await staff_meeting(request, user)
    form = await form_lists(request)
    now = request.app[CLOCK]()

    def first(key: str) -> str:
        return (form.get(key) or [""])[0]

    present, on, off = _presence_from_form(form)
    values: dict[str, Any] = {k: first(k) for k in ("topic", "outcome", "next_contact", "next_contact_on")}
    values["presence"] = _presence_rows(on, off)
    problems: dict[str, Message] = {}
    next_on: date | None = None
    if values["next_contact_on"]:
        try:
            next_on = date.fromisoformat(values["next_contact_on"])
        except ValueError:
            problems["next_contact_on"] = Text("err.summary.next_contact_date")
    if any(c < 0 or c > MAX_COUNT for c in [*on.values(), *off.values()]):
        problems["present"] = Text("err.summary.present_count_range", max=MAX_COUNT)
    elif not present:
        problems["present"] = Text("err.summary.present_none")
    journal = request.app[JOURNAL]
    times = await journal.meeting_times(meeting)
    if times.end is None:
        problems["meeting"] = Text("err.summary.not_started")
    role = await request.app[PLANNING].call_role(user.id)
    repairs = await journal.repairs(meeting.id)
    if role is None:
        problems["meeting"] = Text("err.summary.host_only")
    consents = await journal.consents(meeting.id)
    try:
        summary = build_summary(
            meeting_id=meeting.id,
            kind=meeting.kind,
            topic=values["topic"],
            starts_at=times.start,
            ends_at=times.end,
            present=[p for p in present if p.count > 0],
            consents=consents,
            outcome=values["outcome"],
            next_contact=values["next_contact"],
            next_contact_on=next_on,
            confirmed_at=now,
            confirmed_by_role=role or Role.FORMIDLER,
            equipment=[*times.serials, *(r.serial_number for r in repairs)],
            repair=repairs[-1] if repairs else None,
        )
    except PlanningError as exc:
        problems = {**exc.problems, **problems}
    if problems:
        return await _summary_page(request, user, meeting, values, problems=problems, status=400)
    try:
        await journal.confirm(summary, confirmed_by=user.id)
    except PlanningError as exc:
        return await _summary_page(request, user, meeting, values, problems=exc.problems, status=409)
    raise web.HTTPSeeOther(f"/staff/meetings/{meeting.id}/sammendrag")


async def _confirmed(request: web.Request) -> tuple[Meeting, Any]:
    user = staff_of(request)
    meeting = await staff_meeting(request, user)
    summary = await request.app[JOURNAL].summary(meeting.id)
    if summary is None:
        raise refused(request, web.HTTPNotFound, "err.summary.not_confirmed")
    return meeting, summary


@staff_route(StaffAction.READ_SUMMARY)
async def summary_print(request: web.Request) -> web.Response:
    """The printable page. Its own stylesheet is inline, so the page gets a CSP that allows exactly that style."""
    _, summary = await _confirmed(request)
    html = summary_html(summary, voice=voice(lang_of(request)))
    styles = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(m.encode()).digest()).decode() + "'" for m in _STYLE.findall(html)
    )
    csp = f"default-src 'none'; style-src {styles}; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    return web.Response(text=html, content_type="text/html", headers={"Content-Security-Policy": csp})


@staff_route(StaffAction.READ_SUMMARY)
async def summary_json(request: web.Request) -> web.Response:
    meeting, summary = await _confirmed(request)
    return web.Response(
        text=summary_to_json(summary),
        content_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="sammendrag-{meeting.id}.json"'},
    )


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/staff/meetings/{meeting_id}/reparasjon", repair_form)
    app.router.add_post("/staff/meetings/{meeting_id}/reparasjon", repair_save)
    app.router.add_get("/staff/meetings/{meeting_id}/sammendrag", summary_view)
    app.router.add_post("/staff/meetings/{meeting_id}/sammendrag", summary_confirm)
    app.router.add_get("/staff/meetings/{meeting_id}/sammendrag.html", summary_print)
    app.router.add_get("/staff/meetings/{meeting_id}/sammendrag.json", summary_json)
