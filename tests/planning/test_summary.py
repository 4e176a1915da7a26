"""The journal summary: stable JSON that reads back, printable HTML that escapes everything, is lang="nb",
and holds no names (the roster's first names of people off camera never reach it)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest

from privacy.records.consent import ConsentForm, ConsentGiven, Giver, Recorder, RecorderKind, Scope, fold
from session.call.roster import OffCameraList
from session.planning.errors import SummaryInvalid
from session.planning.repair import parse_repair_form
from session.planning.summary import (
    SCHEMA,
    ConsentEntry,
    MeetingSummary,
    Presence,
    build_summary,
    consent_entries,
    summary_from_json,
    summary_html,
    summary_to_dict,
    summary_to_json,
)
from session.roles import Role
from web.i18n import voice

NB = voice("nb")
START = datetime(2025, 11, 24, 9, 0, tzinfo=UTC)
CONSENT = ConsentEntry(
    subject_role="bruker",
    giver=Giver.RELATIVE,
    form=ConsentForm.ORAL,
    scopes=frozenset({Scope.VIDEO, Scope.AUDIO}),
    purpose="Vise terskelen på badet",
    given_at=START + timedelta(minutes=2),
)


def summary(**changes: object) -> MeetingSummary:
    values: dict[str, object] = {
        "meeting_id": "a1b2c3d4e5f60708",
        "kind": "reparasjon",
        "topic": "Rullestol <b>trekker</b> & bremser dårlig",
        "starts_at": START,
        "ends_at": START + timedelta(minutes=40),
        "present": [
            Presence("formidler", True),
            Presence("tekniker", True),
            Presence("parorende", False),
            Presence("parorende", False),
            Presence("bruker", False),
        ],
        "consents": [CONSENT],
        "outcome": "Bremsen justeres lokalt.\n<script>alert(1)</script>",
        "next_contact": "Tekniker ringer formidler",
        "next_contact_on": date(2025, 12, 1),
        "equipment": ["RS-2231", "RS-2231"],
        "repair": parse_repair_form(
            {
                "serial_number": "RS-2231",
                "fault_description": "Wire slitt",
                "decision": "reparer_lokalt",
                "next_step": "Ny wire",
                "part_number": ["W-100"],
                "part_description": ["Bremsewire <ny>"],
                "part_quantity": ["2"],
            }
        ),
        "confirmed_at": START + timedelta(minutes=45),
        "confirmed_by_role": Role.FORMIDLER,
    }
    values.update(changes)
    return build_summary(**values)  # type: ignore[arg-type]


def test_roles_are_counted_on_and_off_camera() -> None:
    assert summary().present == (
        Presence("formidler", True, 1),
        Presence("tekniker", True, 1),
        Presence("bruker", False, 1),
        Presence("parorende", False, 2),
    )


def test_json_has_stable_keys_and_reads_back() -> None:
    made = summary()
    text = summary_to_json(made)
    data = json.loads(text)
    assert list(data) == sorted(data)
    assert set(data) == {
        "schema",
        "meeting_id",
        "kind",
        "topic",
        "meeting_date",
        "starts_at",
        "ends_at",
        "present",
        "consents",
        "outcome",
        "next_contact",
        "next_contact_on",
        "equipment",
        "repair",
        "confirmed_at",
        "confirmed_by_role",
    }
    assert data["schema"] == SCHEMA
    assert data["starts_at"] == "2025-11-24T09:00:00Z"
    assert data["meeting_date"] == "2025-11-24"
    assert data["equipment"] == ["RS-2231"]
    assert data["consents"][0] == {
        "subject_role": "bruker",
        "giver": "relative",
        "form": "oral",
        "scopes": ["audio", "video"],
        "purpose": "Vise terskelen på badet",
        "given_at": "2025-11-24T09:02:00Z",
        "withdrawn_scopes": [],
    }
    assert summary_from_json(text) == made
    assert summary_to_json(summary_from_json(text)) == text
    assert summary_to_dict(made) == data


def test_html_is_norwegian_printable_and_escapes_everything() -> None:
    page = summary_html(summary(), voice=NB)
    assert '<html lang="nb">' in page
    assert "@media print" in page and "@page" in page
    assert "<script>" not in page and "<b>trekker</b>" not in page and "<ny>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "Rullestol &lt;b&gt;trekker&lt;/b&gt; &amp; bremser dårlig" in page
    assert "mandag 24. november 2025 kl. 10.00–10.40" in page
    assert "til stede utenfor kamera" in page
    assert "pårørende" in page and "muntlig" in page and "lyd, video" in page
    assert "Repareres lokalt" in page and "Bremsewire &lt;ny&gt;" in page
    assert "mandag 1. desember 2025" in page


def test_no_first_names_from_the_roster_reach_the_summary() -> None:
    roster = OffCameraList()
    entry = roster.add("parorende", "Solveig", added_by="p1")
    present = [Presence(e.role, on_camera=False) for e in roster.entries.values()]
    made = summary(present=present)
    assert entry.first_name not in summary_to_json(made)
    assert entry.first_name not in summary_html(made, voice=NB)
    assert not hasattr(Presence("tolk", False), "first_name")


def test_consents_from_the_ledger_become_roles_without_references() -> None:
    given = ConsentGiven(
        consent_id="c1",
        meeting_id="a1b2c3d4e5f60708",
        subject_ref="p-user-77",
        giver=Giver.USER,
        form=ConsentForm.WRITTEN,
        scopes=frozenset({Scope.VIDEO}),
        purpose="Vise rullestolen",
        given_at=START,
        recorded_by=Recorder(RecorderKind.PARTICIPANT, "p-user-77"),
    )
    entries = consent_entries(fold([given]).consents("a1b2c3d4e5f60708"), {"p-user-77": "bruker"})
    made = summary(consents=entries)
    assert "p-user-77" not in summary_to_json(made)
    assert made.consents[0].form is ConsentForm.WRITTEN


def test_a_withdrawn_scope_is_marked() -> None:
    withdrawn = ConsentEntry(
        "bruker", Giver.USER, ConsentForm.ORAL, frozenset({Scope.VIDEO}), "Vise", START, frozenset({Scope.VIDEO})
    )
    assert "video (trukket tilbake)" in summary_html(summary(consents=[withdrawn]), voice=NB)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"outcome": ""}, "outcome"),
        ({"next_contact": "x" * 501}, "next_contact"),
        ({"kind": "hage"}, "kind"),
        ({"meeting_id": "a b"}, "meeting_id"),
        ({"present": [Presence("sjef", True)]}, "present"),
        ({"present": [Presence("tolk", False, 0)]}, "present"),
        ({"ends_at": START - timedelta(minutes=1)}, "ends_at"),
        ({"starts_at": datetime(2025, 11, 24, 9, 0)}, "starts_at"),
        ({"equipment": ["RS\x00"]}, "equipment"),
        ({"consents": [ConsentEntry("ukjent", Giver.USER, ConsentForm.ORAL, frozenset(), "x", START)]}, "consents"),
    ],
)
def test_bad_input_is_refused_naming_the_field(changes: dict[str, object], field: str) -> None:
    with pytest.raises(SummaryInvalid) as caught:
        summary(**changes)
    assert field in caught.value.problems, caught.value.problems


def test_an_unknown_schema_is_refused() -> None:
    data = summary_to_dict(summary())
    data["schema"] = "other/9"
    with pytest.raises(SummaryInvalid):
        summary_from_json(json.dumps(data))


@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        (
            "nn",
            [
                "Samandrag av samhandlingsmøte",
                "måndag 24. november 2025 kl. 10.00–10.40",
                "til stades utanfor kamera",
                "pårørande",
                "munnleg",
                "lyd, video",
                "Stadfesta ",
            ],
        ),
        (
            "en",
            [
                "Summary of Samhandling meeting",
                "Monday 24 November 2025 at 10.00–10.40",
                "present off camera",
                "a relative",
                "oral",
                "audio, video",
                "Confirmed ",
            ],
        ),
    ],
)
def test_the_printable_summary_in_nynorsk_and_english_with_oslo_times(lang: str, expected: list[str]) -> None:
    page = summary_html(summary(), voice=voice(lang))
    assert f'<html lang="{lang}">' in page
    for text in expected:
        assert text in page, text
    assert "Bekreftet" not in page and "Samtykker" not in page
