"""Resource quantities (`100m`, `128Mi`, `1.5`, `1e3`): parse to an exact number.

Why exact: validation compares requests with limits and the QoS class compares them for equality;
`0.1` vs `100m` must be equal, which floats can't promise. The grammar is apimachinery's
`resource.Quantity`: a signed decimal number, then a binary suffix (Ki…Ei), a decimal suffix
(n u m "" k M G T P E) or a decimal exponent (`e3`, `E-2`).
"""
from __future__ import annotations

import re
from fractions import Fraction

QUANTITY_REGEX = r"^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$"
_NUMBER = re.compile(r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)$")

_SUFFIXES: dict[str, Fraction] = {
    "": Fraction(1),
    "n": Fraction(1, 10**9), "u": Fraction(1, 10**6), "m": Fraction(1, 1000),
    "k": Fraction(10**3), "M": Fraction(10**6), "G": Fraction(10**9), "T": Fraction(10**12),
    "P": Fraction(10**15), "E": Fraction(10**18),
    "Ki": Fraction(2**10), "Mi": Fraction(2**20), "Gi": Fraction(2**30), "Ti": Fraction(2**40),
    "Pi": Fraction(2**50), "Ei": Fraction(2**60),
}

# The message apimachinery gives when a quantity doesn't decode.
QUANTITY_ERROR = f"quantities must match the regular expression '{QUANTITY_REGEX}'"


def parse_quantity(value: str | int | float) -> Fraction:
    """The exact value of a quantity; ValueError(QUANTITY_ERROR) if it isn't one."""
    if isinstance(value, bool):
        raise ValueError(QUANTITY_ERROR)
    if isinstance(value, int):
        return Fraction(value)
    if isinstance(value, float):
        return Fraction(str(value))
    s = str(value).strip()
    m = re.match(QUANTITY_REGEX, s)
    if not m:
        raise ValueError(QUANTITY_ERROR)
    number, suffix = m.group(1), m.group(2)
    if not _NUMBER.match(number):
        raise ValueError(QUANTITY_ERROR)
    if suffix in _SUFFIXES:
        scale = _SUFFIXES[suffix]
    elif re.fullmatch(r"[eE][-+]?[0-9]+", suffix):
        exp = int(suffix[1:])
        scale = Fraction(10) ** exp
    else:
        raise ValueError(QUANTITY_ERROR)
    return Fraction(number) * scale


def is_quantity(value: object) -> bool:
    try:
        parse_quantity(value)  # type: ignore[arg-type]
        return True
    except ValueError:
        return False
