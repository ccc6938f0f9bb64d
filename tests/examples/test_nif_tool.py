"""The invoice example's custom tool: real Spanish NIF, NIE and CIF check characters."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

PATH = Path(__file__).parents[2] / "examples" / "facturas" / "tools" / "nif.py"
_spec = importlib.util.spec_from_file_location("facturas_nif_tool", PATH)
assert _spec and _spec.loader
nif = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(nif)


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ("12345678Z", "DNI"),  # 12345678 % 23 = 14 -> Z
        ("00000000T", "DNI"),  # 0 -> T
        ("50123456Q", "DNI"),
        ("X1234567L", "NIE"),  # X -> 0: 01234567 % 23 = 19 -> L
        ("Y0000000Z", "NIE"),  # Y -> 1: 10000000 % 23 = 14 -> Z
        ("Z1234567R", "NIE"),
        ("A28015865", "CIF"),  # Telefónica S.A.: a digit control for A
        ("B12345674", "CIF"),
        ("Q2826000H", "CIF"),  # Agencia Tributaria: a letter control for Q
        ("P2807900B", "CIF"),  # Ayuntamiento de Madrid: a letter control for P
        ("G28029643", "CIF"),  # G takes a digit or a letter
        ("J1234567D", "CIF"),  # J: the letter form of control digit 4
        ("J12345674", "CIF"),  # J: the digit form
        ("K1234567L", "KLM"),
    ],
)
def test_valid_identifiers(value: str, kind: str) -> None:
    assert nif.validate(value) is True
    assert nif.kind(value) == kind
    assert nif.explain(value) == f"{kind} {value}: valid"


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("12345678A", "wrong check character, expected Z"),
        ("X1234567M", "wrong check character, expected L"),
        ("B12345675", "wrong check character, expected 4"),
        ("B1234567D", "wrong check character, expected 4"),  # B requires the digit form
        ("Q2826000A", "wrong check character, expected H"),
        ("Q28260008", "wrong check character, expected H"),  # Q requires the letter form
        ("I12345674", "not a DNI, NIE or CIF format"),  # I is not an organisation letter
        ("1234567Z", "not a DNI, NIE or CIF format"),
        ("", "not a DNI, NIE or CIF format"),
        ("hello", "not a DNI, NIE or CIF format"),
    ],
)
def test_invalid_identifiers(value: str, reason: str) -> None:
    assert nif.validate(value) is False
    assert reason in nif.explain(value)


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("B-12345674", "B12345674"),
        ("b 1234567 4", "B12345674"),
        ("12.345.678-z", "12345678Z"),
        ("ES B12345674", "B12345674"),
        ("ESB12345674", "B12345674"),
        ("X-1234567-L", "X1234567L"),
        (" 00000000t\n", "00000000T"),
    ],
)
def test_normalize_strips_the_ways_people_write_them(raw: str, normal: str) -> None:
    assert nif.normalize(raw) == normal
    assert nif.validate(raw) is True


def test_expected_check_gives_both_forms_where_both_are_allowed() -> None:
    # The last character is a placeholder: only the body decides the check.
    assert nif.expected_check("G28029640") == "3C"
    assert nif.expected_check("B12345670") == "4"
    assert nif.expected_check("Q2826000A") == "H"
    assert nif.expected_check("nonsense") is None


def test_every_public_function_is_typed_and_documented() -> None:
    for name in ("normalize", "kind", "expected_check", "validate", "explain"):
        function = getattr(nif, name)
        assert function.__doc__ and function.__annotations__.get("return")
