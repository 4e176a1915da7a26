"""Synthetic identity numbers computed with the mod-11 control-digit algorithm, never copied from anyone.

The individual numbers are searched from a fixed start so the tests are repeatable; the dates are chosen by
the tests (plain, D-number day + 40, H-number/Dolly month + 40, Tenor month + 80).
"""

from __future__ import annotations

_K1 = (3, 7, 6, 1, 8, 9, 4, 5, 2)
_K2 = (5, 4, 3, 2, 7, 6, 5, 4, 3, 2)


def with_control_digits(nine: str, *, k1_residue: int = 0) -> str | None:
    """``nine`` digits plus k1 and k2, where the first weighted sum leaves ``k1_residue`` (0 before 2032,
    0-3 from 2032); None when a control digit would be 10."""
    k1 = (k1_residue - sum(w * int(d) for w, d in zip(_K1, nine, strict=True))) % 11
    if k1 == 10:
        return None
    ten = nine + str(k1)
    k2 = -sum(w * int(d) for w, d in zip(_K2, ten, strict=True)) % 11
    return None if k2 == 10 else ten + str(k2)


def identity_number(date6: str, *, k1_residue: int = 0, start: int = 500) -> str:
    """The first valid number for the date part ``date6`` (DDMMYY with offsets) from individual number ``start``."""
    for individual in range(start, 1000):
        number = with_control_digits(f"{date6}{individual:03d}", k1_residue=k1_residue)
        if number is not None:
            return number
    raise AssertionError("no valid individual number")


def broken(number: str) -> str:
    """The same number with its last control digit changed, so it is no longer valid."""
    return number[:-1] + str((int(number[-1]) + 1) % 10)


FODSELSNUMMER = identity_number("150376")
D_NUMMER = identity_number("550376")
H_NUMMER = identity_number("154376")
TENOR = identity_number("158376")
RULE_2032 = identity_number("010133", k1_residue=2)
VALID = {
    "fodselsnummer": FODSELSNUMMER,
    "d_nummer": D_NUMMER,
    "h_nummer_dolly": H_NUMMER,
    "tenor": TENOR,
    "regel_2032": RULE_2032,
    "med_mellomrom": f"{FODSELSNUMMER[:6]} {FODSELSNUMMER[6:]}",
    # A real date and five digits is somebody's number even when the control digits are wrong (a typo, or made up).
    "feil_kontrollsiffer": broken(FODSELSNUMMER),
    "dato_med_punktum": f"{FODSELSNUMMER[:2]}.{FODSELSNUMMER[2:4]}.{FODSELSNUMMER[4:6]} {FODSELSNUMMER[6:]}",
}
INVALID = {
    "ugyldig_dato": (with_control_digits("320176500") or with_control_digits("320176501") or "32017650000"),
    "tolv_sifre": "9" + FODSELSNUMMER,
    "ti_sifre": FODSELSNUMMER[:10],
}
