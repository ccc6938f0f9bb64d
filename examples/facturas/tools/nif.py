"""Spanish tax identifiers: NIF (DNI), NIE and CIF, with their official check characters.

- DNI: 8 digits + a letter; the letter is TRWAGMYFPDXBNJZSQVHLCKE[number % 23].
- NIE (foreign residents): X, Y or Z + 7 digits + a letter; X/Y/Z stand for 0/1/2
  and the letter is computed as for a DNI.
- K, L, M NIFs (minors, non-residents, foreigners without NIE): the letter + 7 digits
  + a letter computed as for a DNI over the 7 digits.
- CIF (companies and other entities): an organisation letter + 7 digits + a control
  character. The control digit is (10 - s % 10) % 10, where s adds the digits in even
  positions and the digit sums of the doubled digits in odd positions; when the control
  is a letter, it is JABCDEFGHI[control digit]. Which form is valid depends on the
  organisation letter: a digit for A, B, E, H; a letter for K, N, P, Q, R, S, W;
  either for C, D, F, G, J, U, V.
"""

from __future__ import annotations

import re

_DNI_LETTERS = "TRWAGMYFPDXBNJZSQVHLCKE"
_CIF_LETTERS = "JABCDEFGHI"
_NIE_PREFIX = {"X": "0", "Y": "1", "Z": "2"}
_CIF_DIGIT_ONLY = set("ABEH")
_CIF_LETTER_ONLY = set("KNPQRSW")
_CIF_EITHER = set("CDFGJUV")

_DNI = re.compile(r"^\d{8}[A-Z]$")
_NIE = re.compile(r"^[XYZ]\d{7}[A-Z]$")
_KLM = re.compile(r"^[KLM]\d{7}[A-Z]$")
_CIF = re.compile(r"^[ABCDEFGHJNPQRSUVW]\d{7}[0-9A-J]$")


def normalize(raw: str) -> str:
    """Canonical form of an identifier as written on a document: upper case, without
    spaces, dots or dashes, and without a leading "ES" VAT prefix.

    Example: normalize("b-12.345.674") == "B12345674"; normalize("ES B12345674") == "B12345674".
    """
    text = re.sub(r"[\s.\-/]", "", raw).upper()
    if len(text) == 11 and text.startswith("ES"):
        text = text[2:]
    return text


def kind(nif: str) -> str:
    """The kind of identifier by its format (the check character is not verified):
    "DNI", "NIE", "CIF", "KLM" (special NIF), or "unknown". The input is normalized first.
    """
    value = normalize(nif)
    if _DNI.match(value):
        return "DNI"
    if _NIE.match(value):
        return "NIE"
    if _KLM.match(value):
        return "KLM"
    if _CIF.match(value):
        return "CIF"
    return "unknown"


def _dni_letter(number: str) -> str:
    return _DNI_LETTERS[int(number) % 23]


def _cif_control_digit(digits: str) -> int:
    total = 0
    for position, char in enumerate(digits, start=1):
        value = int(char)
        if position % 2:  # odd positions are doubled and their digits added
            doubled = value * 2
            total += doubled // 10 + doubled % 10
        else:
            total += value
    return (10 - total % 10) % 10


def expected_check(nif: str) -> str | None:
    """The correct check character(s) for the identifier's body, or None when the format is
    not recognised. For CIFs that accept a digit or a letter, both are returned (e.g. "4D").
    """
    value = normalize(nif)
    found = kind(value)
    if found == "DNI":
        return _dni_letter(value[:8])
    if found == "NIE":
        return _dni_letter(_NIE_PREFIX[value[0]] + value[1:8])
    if found == "KLM":
        return _dni_letter(value[1:8])
    if found == "CIF":
        digit = _cif_control_digit(value[1:8])
        letter = _CIF_LETTERS[digit]
        if value[0] in _CIF_DIGIT_ONLY:
            return str(digit)
        if value[0] in _CIF_LETTER_ONLY:
            return letter
        return f"{digit}{letter}"
    return None


def validate(nif: str) -> bool:
    """True when the identifier (DNI, NIE, K/L/M NIF or CIF; normalized first, so
    "B-12345674" is accepted) is well formed and its check character is correct.
    """
    value = normalize(nif)
    expected = expected_check(value)
    return expected is not None and value[-1] in expected


def explain(nif: str) -> str:
    """A one-line verdict for people: the kind, and why it is invalid if it is
    (e.g. "CIF B12345675: wrong check character, expected 4").
    """
    value = normalize(nif)
    found = kind(value)
    if found == "unknown":
        return f"{value or nif!r}: not a DNI, NIE or CIF format"
    if validate(value):
        return f"{found} {value}: valid"
    expected = expected_check(value) or ""
    options = " or ".join(expected)
    return f"{found} {value}: wrong check character, expected {options}"
