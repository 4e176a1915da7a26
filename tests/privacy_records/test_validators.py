from __future__ import annotations

import pytest

from privacy.records.errors import (
    IdentityNumberRefused,
    InvalidOrgNumber,
    InvalidReference,
    InvalidSerialNumber,
    InvalidText,
)
from privacy.records.validators import (
    IdentityKind,
    control_digits_ok,
    find_identity_numbers,
    identity_kind,
    is_identity_number,
    is_valid_org_number,
    org_number_control_digit,
    parse_org_number,
    refuse_identity_numbers,
    validate_free_text,
    validate_reference,
    validate_serial_number,
)
from privacy.user_text import Text
from tests.privacy_records.fakes import first_identity_number, make_identity_number
from tests.said import nb

# --- organisation numbers ---------------------------------------------------------------------------------


@pytest.mark.parametrize("number", ["974760673", "889640782"])  # Brønnøysundregistrene, NAV (public registry)
def test_known_org_numbers_are_valid(number: str) -> None:
    assert is_valid_org_number(number)


def test_org_number_with_spaces_is_normalised() -> None:
    assert parse_org_number("974 760 673") == "974760673"


@pytest.mark.parametrize("number", ["974760674", "97476067", "9747606730", "97476067a", "", "９７４７６０６７３"])
def test_wrong_org_numbers_are_refused(number: str) -> None:
    assert not is_valid_org_number(number)
    with pytest.raises(InvalidOrgNumber):
        parse_org_number(number)


def test_org_number_remainder_rules() -> None:
    # Find bases with remainder 0 and 1 by search instead of trusting a table.
    zero = next(f"{n:08d}" for n in range(10_000_000, 10_100_000) if org_number_control_digit(f"{n:08d}") == 0)
    assert is_valid_org_number(zero + "0")
    unusable = next(f"{n:08d}" for n in range(10_000_000, 10_100_000) if org_number_control_digit(f"{n:08d}") is None)
    assert not any(is_valid_org_number(unusable + str(d)) for d in range(10))


# --- identity numbers -------------------------------------------------------------------------------------


def test_builder_matches_the_documented_2032_computation() -> None:
    # Skatteetaten's worked example: 02.01.2032, individual 999 -> k1 = 11 - (156 mod 11) = 9, k2 = 7.
    built = make_identity_number("020132", "999")
    assert built is not None and built.endswith("97")
    # Second number on 30.10.1982 with 999 uses remainder 1: k1 = 12 - (196 mod 11) = 3.
    second = make_identity_number("301082", "999", residue=1)
    assert second is not None and second[9] == "3"


def test_ordinary_fodselsnummer() -> None:
    number = first_identity_number("150387")
    assert identity_kind(number) is IdentityKind.FODSELSNUMMER
    assert control_digits_ok(number, rule_2032=False)


@pytest.mark.parametrize("residue", [1, 2, 3])
def test_2032_rule_accepts_residues_one_to_three_only_when_enabled(residue: int) -> None:
    number = first_identity_number("150387", residue=residue)
    assert is_identity_number(number)
    assert not is_identity_number(number, rule_2032=False)


def test_residue_four_is_never_valid() -> None:
    number = first_identity_number("150387", residue=4)
    assert not is_identity_number(number)


def test_every_single_digit_change_is_invalid() -> None:
    # The second control sum weights every digit (k1 included) by a non-zero weight mod 11, so one changed
    # digit always breaks it, even though k1 alone has four legal values from 2032.
    number = first_identity_number("150387", residue=2)
    for position in range(11):
        for digit in "0123456789":
            changed = number[:position] + digit + number[position + 1 :]
            if changed != number:
                assert not control_digits_ok(changed), (position, digit)


def test_d_number() -> None:
    number = first_identity_number("550387")  # day 15 + 40
    assert identity_kind(number) is IdentityKind.D_NUMMER


def test_h_number_and_nav_synthetic_share_month_plus_40() -> None:
    number = first_identity_number("154387")
    assert identity_kind(number) is IdentityKind.H_NUMMER


def test_tenor_synthetic_month_plus_80() -> None:
    assert identity_kind(first_identity_number("158387")) is IdentityKind.SYNTHETIC_TENOR
    # Tenor also makes synthetic D-numbers: day + 40 and month + 80.
    assert identity_kind(first_identity_number("558387")) is IdentityKind.SYNTHETIC_TENOR


@pytest.mark.parametrize(
    "date_part",
    ["320187", "310487", "300287", "290287", "001387", "151387", "155387", "157387", "159387", "000187", "720187"],
)
def test_impossible_dates_are_invalid(date_part: str) -> None:
    number = first_identity_number(date_part)
    assert control_digits_ok(number)
    assert not is_identity_number(number)


@pytest.mark.parametrize("date_part", ["290288", "290200", "690288"])
def test_leap_days(date_part: str) -> None:
    assert is_identity_number(first_identity_number(date_part))


@pytest.mark.parametrize("value", ["", "1234567890", "123456789012", "abcdefghijk", "1503871234x"])
def test_wrong_shapes_are_invalid(value: str) -> None:
    assert not is_identity_number(value)


# --- finding numbers in text ------------------------------------------------------------------------------


def test_finds_numbers_in_free_text_with_separators() -> None:
    number = first_identity_number("150387")
    date, rest = number[:6], number[6:]
    texts = [
        f"Bruker {number} trenger ny stol",
        f"fnr: {date} {rest}.",
        f"fnr {date}.{rest}",
        f"({date}-{rest})",
        f"{date} {rest[:3]} {rest[3:]}",
        f"{date}\u00a0{rest}",
    ]
    for text in texts:
        found = find_identity_numbers(text)
        assert [m.number for m in found] == [number], text
        assert (
            text[found[0].start : found[0].end].replace(" ", "").replace(".", "").replace("-", "").replace("\u00a0", "")
            == number
        )


def test_finds_numbers_hidden_with_invisible_or_wide_digits() -> None:
    number = first_identity_number("150387")
    hidden = number[:4] + "\u200b" + number[4:]
    wide = "".join(chr(0xFF10 + int(c)) for c in number)
    assert [m.number for m in find_identity_numbers(f"se {hidden}")] == [number]
    assert [m.number for m in find_identity_numbers(f"se {wide}")] == [number]


def test_does_not_split_longer_digit_runs_or_accept_invalid_numbers() -> None:
    number = first_identity_number("150387")
    assert find_identity_numbers("1" + number) == []
    assert find_identity_numbers(number + "9") == []
    assert find_identity_numbers("serienummer 12345678901, tlf 22 22 22 22") == []


def test_finds_several_kinds() -> None:
    fnr, dnr, tenor = (first_identity_number(d) for d in ("150387", "550387", "158387"))
    found = find_identity_numbers(f"{fnr} og {dnr}, test {tenor}")
    assert [m.kind for m in found] == [IdentityKind.FODSELSNUMMER, IdentityKind.D_NUMMER, IdentityKind.SYNTHETIC_TENOR]


def test_match_repr_hides_the_number() -> None:
    number = first_identity_number("150387")
    (match,) = find_identity_numbers(number)
    assert number not in repr(match)


def test_refusal_names_the_field_and_never_echoes_the_number() -> None:
    number = first_identity_number("150387")
    with pytest.raises(IdentityNumberRefused) as caught:
        refuse_identity_numbers(Text("field.topic"), f"Rullestol for {number[:6]} {number[6:]}")
    message = nb(caught.value)
    assert "«Tema»" in message and "fødselsnummer" in message
    assert number not in message and number[:6] not in message and number[6:] not in message
    assert caught.value.field == Text("field.topic")


def test_refusal_lets_ordinary_text_through() -> None:
    refuse_identity_numbers(Text("field.topic"), "Tilpasning av nakkestøtte, serienr. SN-2231-77, ring 12345678")


# --- free text, serial numbers, references ----------------------------------------------------------------


def test_free_text_rules() -> None:
    assert validate_free_text(Text("field.purpose"), "  posisjonering\r\nog sittestilling ", max_length=100) == (
        "posisjonering\nog sittestilling"
    )
    with pytest.raises(InvalidText):
        validate_free_text(Text("field.purpose"), "   ", max_length=100)
    assert validate_free_text(Text("field.note"), "", max_length=100, required=False) == ""
    with pytest.raises(InvalidText):
        validate_free_text(Text("field.purpose"), "x" * 101, max_length=100)
    with pytest.raises(InvalidText):
        validate_free_text(Text("field.purpose"), "bell\x07", max_length=100)
    with pytest.raises(IdentityNumberRefused):
        validate_free_text(Text("field.purpose"), f"for {first_identity_number('150387')}", max_length=100)


def test_serial_numbers() -> None:
    assert validate_serial_number("  SN 2231/77-B ") == "SN 2231/77-B"
    for bad in ["", "   ", "x" * 65, "SN\x00123", "SN\n123", "SN\u202e321", "SN\u200b123", "SN\x1b[31m"]:
        with pytest.raises(InvalidSerialNumber):
            validate_serial_number(bad)
    with pytest.raises(IdentityNumberRefused):
        validate_serial_number(first_identity_number("150387"))


def test_references() -> None:
    assert validate_reference(Text("field.meeting_id"), "m-7f3a:2") == "m-7f3a:2"
    for bad in ["", "Kari Nordmann", "x" * 65, "-leading", "æøå"]:
        with pytest.raises(InvalidReference):
            validate_reference(Text("field.participant"), bad)
    with pytest.raises(IdentityNumberRefused):
        validate_reference(Text("field.participant"), first_identity_number("150387"))
    # Digits inside a longer generated id are not a person.
    assert validate_reference(Text("field.meeting_id"), "a" + first_identity_number("150387") + "b")
