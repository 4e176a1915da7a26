"""Shared sample inputs for the planning tests."""

from __future__ import annotations

from datetime import UTC, datetime

from session.planning.plan import MeetingPlan, parse_plan

NOW = datetime(2025, 11, 20, 9, 0, tzinfo=UTC)


def sample_plan(**changes: str | list[str]) -> MeetingPlan:
    data: dict[str, str | list[str]] = {
        "kind": "bolig",
        "starts_at": "2025-11-24T10:00",
        "ends_at": "2025-11-24T11:00",
        "topic": "Tilgjengelighet på bad; terskel, dusjsone og \\ skråning",
        "filming": "Badet fra døra.\nTerskelen og dusjsonen, ikke brukeren.",
        "camera_operator": "formidler",
        "participants": ["formidler", "radgiver", "bolig", "husbanken"],
        "drawings": ["Plantegning bad"],
        "serial_numbers": ["SN-88123"],
    }
    data.update(changes)
    return parse_plan(data, now=NOW)
