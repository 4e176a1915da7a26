"""Who may do what: one table for staff pages (staff role × action) and one for the live call (who × action).

Every staff handler and every in-call message asks this module, so a right is granted in exactly one place and
a test can walk the whole table. *Whose* meeting is the other half of each answer and is decided by isolation
(``session/access/isolation.py``): a meeting outside the caller's organisations is unknown (404), so the table only
says what a role may do in the meetings it can see at all.

In a call, powers over other people (recording oral consent, resuming someone else, admitting, recording) need
a logged-in staff member on a link issued to them personally (``Participant.staff_id``). A staff-role link
without an owner — one typed in from a room code, or sent to someone by mail — carries the role's label and
nothing more: it is a guest.
"""

from __future__ import annotations

from enum import StrEnum

from session.access.staff_roles import StaffRole
from session.roles import Role


class StaffAction(StrEnum):
    """Things done on the staff pages; each handler names exactly one."""

    VIEW_MEETINGS = "view_meetings"
    CREATE_MEETING = "create_meeting"
    JOIN_MEETING = "join_meeting"
    """Get a personal link to join a meeting of one's own organisation with staff powers."""
    ISSUE_LINKS = "issue_links"
    MANAGE_LINKS = "manage_links"
    """Withdraw a link or free it from its device."""
    PLAN_MEETING = "plan_meeting"
    CANCEL_MEETING = "cancel_meeting"
    WRITE_REPAIR = "write_repair"
    READ_SUMMARY = "read_summary"
    WRITE_SUMMARY = "write_summary"
    LIST_RECORDINGS = "list_recordings"
    PLAY_RECORDING = "play_recording"
    EXPORT_RECORDING = "export_recording"
    DELETE_RECORDING = "delete_recording"
    CONFIRM_DELETION = "confirm_deletion"
    """Confirm, for one's own organisation, that it holds no copy of a deleted recording."""
    READ_RECORDING_STATES = "read_recording_states"
    READ_CERTIFICATE = "read_certificate"
    READ_AUDIT = "read_audit"
    MANAGE_ACCESS = "manage_access"
    MANAGE_ORGANISATIONS = "manage_organisations"
    TAKE_DROPIN = "take_dropin"
    MANAGE_BRUKERPASS = "manage_brukerpass"
    """Issue and withdraw a centre's Brukerpass codes, and agree meetings that holders ask for."""


_MEETING_STAFF = frozenset({StaffRole.FORMIDLER, StaffRole.ADVISER, StaffRole.TECHNICIAN})
_READERS = frozenset({StaffRole.COMPLIANCE_OFFICER})

STAFF_TABLE: dict[StaffAction, frozenset[StaffRole]] = {
    StaffAction.VIEW_MEETINGS: _MEETING_STAFF | _READERS,
    StaffAction.CREATE_MEETING: _MEETING_STAFF,
    StaffAction.JOIN_MEETING: _MEETING_STAFF,
    StaffAction.ISSUE_LINKS: _MEETING_STAFF,
    StaffAction.MANAGE_LINKS: _MEETING_STAFF,
    StaffAction.PLAN_MEETING: _MEETING_STAFF,
    StaffAction.CANCEL_MEETING: _MEETING_STAFF,
    StaffAction.WRITE_REPAIR: _MEETING_STAFF,
    StaffAction.READ_SUMMARY: _MEETING_STAFF | _READERS,
    StaffAction.WRITE_SUMMARY: _MEETING_STAFF,
    StaffAction.LIST_RECORDINGS: _MEETING_STAFF,
    # Compliance officers read states, deadlines and certificates; they never see or hear a recording.
    StaffAction.PLAY_RECORDING: _MEETING_STAFF,
    StaffAction.EXPORT_RECORDING: _MEETING_STAFF,
    StaffAction.DELETE_RECORDING: _MEETING_STAFF,
    StaffAction.CONFIRM_DELETION: _MEETING_STAFF,
    StaffAction.READ_RECORDING_STATES: _READERS,
    StaffAction.READ_CERTIFICATE: _MEETING_STAFF | _READERS,
    StaffAction.READ_AUDIT: _READERS,
    StaffAction.MANAGE_ACCESS: frozenset({StaffRole.ACCESS_MANAGER}),
    StaffAction.MANAGE_ORGANISATIONS: frozenset({StaffRole.CENTRE_ADMIN}),
    StaffAction.TAKE_DROPIN: frozenset({StaffRole.ADVISER, StaffRole.TECHNICIAN}),
    StaffAction.MANAGE_BRUKERPASS: frozenset({StaffRole.ADVISER, StaffRole.TECHNICIAN, StaffRole.CENTRE_ADMIN}),
}
"""The staff roles that may take each action (in the meetings and organisations they can see)."""


def staff_may(roles: frozenset[StaffRole], action: StaffAction) -> bool:
    return bool(roles & STAFF_TABLE[action])


# -- the live call -------------------------------------------------------------------------------------------


class CallActor(StrEnum):
    """Who someone is in a call, for the purpose of what they may do there."""

    STAFF_HOST = "staff_host"
    """A logged-in staff member on their own host link."""
    STAFF = "staff"
    """A logged-in staff member on their own (non-host) link."""
    CITIZEN = "citizen"
    RELATIVE = "relative"
    GUEST = "guest"
    """Everyone else: suppliers, Husbanken, and staff-role links that no logged-in person owns."""


class CallStage(StrEnum):
    CHECK = "check"
    """A pre-call check connection: sees only its own processed picture."""
    PREVIEW = "preview"
    LOBBY = "lobby"
    IN_CALL = "in_call"


class CallAction(StrEnum):
    OFFER = "offer"
    PING = "ping"
    ENTER = "enter"
    SET_MEDIA = "set_media"
    CHAT = "chat"
    ADMIT = "admit"
    DENY = "deny"
    LOBBY_MESSAGE = "lobby_message"
    ROSTER_EDIT = "roster_edit"
    ROSTER_CONFIRM = "roster_confirm"
    PAUSE_SELF = "pause_self"
    RESUME_SELF = "resume_self"
    PAUSE_OTHER = "pause_other"
    RESUME_OTHER = "resume_other"
    CONSENT_WRITTEN_SELF = "consent_written_self"
    """The user gives written consent on their own device."""
    CONSENT_WRITTEN_FOR_USER = "consent_written_for_user"
    """A relative or guardian gives written consent on the user's behalf, on their own device."""
    CONSENT_ORAL = "consent_oral"
    """Staff record consent they heard the user (or a relative) give."""
    WITHDRAW_CONSENT_SELF = "withdraw_consent_self"
    WITHDRAW_CONSENT_OTHER = "withdraw_consent_other"
    RECORD_START = "record_start"
    RECORD_STOP = "record_stop"


_STAFF = frozenset({CallActor.STAFF_HOST, CallActor.STAFF})
_EVERYONE = frozenset(CallActor)
_ANY_STAGE = frozenset(CallStage)
_JOINED = frozenset({CallStage.PREVIEW, CallStage.LOBBY, CallStage.IN_CALL})
_IN_CALL = frozenset({CallStage.IN_CALL})

CALL_TABLE: dict[CallAction, tuple[frozenset[CallActor], frozenset[CallStage]]] = {
    CallAction.OFFER: (_EVERYONE, _ANY_STAGE),
    CallAction.PING: (_EVERYONE, _ANY_STAGE),
    CallAction.ENTER: (_EVERYONE, _JOINED),
    CallAction.SET_MEDIA: (_EVERYONE, _JOINED),
    CallAction.CHAT: (_EVERYONE, _IN_CALL),
    CallAction.ADMIT: (frozenset({CallActor.STAFF_HOST}), _IN_CALL),
    CallAction.DENY: (frozenset({CallActor.STAFF_HOST}), _IN_CALL),
    CallAction.LOBBY_MESSAGE: (frozenset({CallActor.STAFF_HOST}), _IN_CALL),
    CallAction.ROSTER_EDIT: (_STAFF, _IN_CALL),
    CallAction.ROSTER_CONFIRM: (frozenset({CallActor.STAFF_HOST}), _IN_CALL),
    # Anyone may take themselves off camera at any time; only the user (or staff they ask) brings them back.
    CallAction.PAUSE_SELF: (_EVERYONE, _JOINED),
    CallAction.RESUME_SELF: (_EVERYONE, _JOINED),
    CallAction.PAUSE_OTHER: (_STAFF, _IN_CALL),
    CallAction.RESUME_OTHER: (_STAFF, _IN_CALL),
    CallAction.CONSENT_WRITTEN_SELF: (frozenset({CallActor.CITIZEN}), _JOINED),
    CallAction.CONSENT_WRITTEN_FOR_USER: (frozenset({CallActor.RELATIVE}), _IN_CALL),
    CallAction.CONSENT_ORAL: (_STAFF, _IN_CALL),
    CallAction.WITHDRAW_CONSENT_SELF: (frozenset({CallActor.CITIZEN}), _JOINED),
    CallAction.WITHDRAW_CONSENT_OTHER: (_STAFF | {CallActor.RELATIVE}, _IN_CALL),
    CallAction.RECORD_START: (frozenset({CallActor.STAFF_HOST}), _IN_CALL),
    CallAction.RECORD_STOP: (frozenset({CallActor.STAFF_HOST}), _IN_CALL),
}
"""For each in-call action: who may take it, and at which stage of joining."""


def call_actor(role: Role, *, host: bool, staff_id: int | None) -> CallActor:
    """Staff powers come from a logged-in person's own link, never from the role written on a link."""
    if staff_id is not None and role.is_staff:
        return CallActor.STAFF_HOST if host else CallActor.STAFF
    if role is Role.BRUKER:
        return CallActor.CITIZEN
    if role is Role.PARORENDE:
        return CallActor.RELATIVE
    return CallActor.GUEST


def call_may(actor: CallActor, stage: CallStage, action: CallAction) -> bool:
    actors, stages = CALL_TABLE[action]
    return actor in actors and stage in stages


CALL_ROLE_OF_STAFF: dict[StaffRole, Role] = {
    StaffRole.FORMIDLER: Role.FORMIDLER,
    StaffRole.ADVISER: Role.RADGIVER,
    StaffRole.TECHNICIAN: Role.TEKNIKER,
}
"""The role a staff member has in a call they join with their own login."""


def call_role_for(roles: frozenset[StaffRole]) -> Role | None:
    return next((role for staff_role, role in CALL_ROLE_OF_STAFF.items() if staff_role in roles), None)


ENTRANCE_ROLES: tuple[Role, ...] = (Role.BRUKER, Role.PARORENDE, Role.LEVERANDOR, Role.HUSBANKEN)
"""Roles a room code or a six-digit code may hand out (citizen first, the default); never a staff role."""
