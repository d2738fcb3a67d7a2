"""Units, in one place: bytes per element of each dtype, the one grammar of amounts a user writes
(``5M``, ``600M``, ``24GiB``, ``10MB``) wherever a budget, a gate, ``fit`` or ``sweep`` takes one,
and how counts and bytes are shown (``138.36M``, ``1.23 GiB``).

Counts take K, M, G, T, P (powers of 1000). Bytes take B, KB, MB, GB, TB, PB (powers of 1000) or
KiB, MiB, GiB, TiB, PiB (powers of 1024); ``Ki``, ``Mi``, ``Gi``, ``Ti`` alone are the binary
multipliers (``10Mi`` = 10 MiB). Prefixes are read in any case; a lowercase ``b`` is a *bit*
(``1Gb`` is a gigabit), which archcalc refuses rather than read as a byte. Amounts are exact:
``1.5T`` is 1,500,000,000,000, never a float just below it.
"""
from __future__ import annotations

import re
from typing import Literal

AmountKind = Literal["count", "bytes"]

# bytes per element of the storage dtypes (activations, weights)
DTYPES: dict[str, int] = {"fp32": 4, "fp16": 2, "bf16": 2, "int8": 1}

COUNT_UNITS: dict[str, int] = {"": 1, "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12,
                               "p": 10**15}
BINARY: dict[str, int] = {"ki": 1 << 10, "mi": 1 << 20, "gi": 1 << 30, "ti": 1 << 40,
                          "pi": 1 << 50}
BYTE_UNITS: dict[str, int] = {"b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
                              "pb": 10**15, **{k + "b": v for k, v in BINARY.items()}}
SHOWN_COUNT = "K, M, G, T (×1000)"
SHOWN_BYTES = "B, KiB, MiB, GiB, TiB (×1024) or KB, MB, GB, TB (×1000)"
LARGEST = 2 ** 62

_AMOUNT = re.compile(r"\s*([0-9][0-9_]*(?:\.[0-9_]*)?(?:[eE][+-]?[0-9]+)?|\.[0-9]+)\s*"
                     r"([A-Za-z]*)\s*")


class AmountError(ValueError):
    """An amount that cannot be read: ``message`` says what is wrong, ``hint`` how to write it.
    Callers turn it into a located diagnostic naming where the amount came from."""

    def __init__(self, message: str, hint: str):
        super().__init__(message)
        self.message, self.hint = message, hint


def parse_amount(text: str, kind: AmountKind | None = None) -> tuple[int, AmountKind]:
    """``"24GiB"`` → (25769803776, "bytes"); ``"5M"`` → (5000000, "count"). ``kind`` requires
    that kind (a plain number is then of it); None accepts either (a plain number is a count).
    Raises :class:`AmountError`."""
    m = _AMOUNT.fullmatch(str(text)) if text is not None else None
    if not m:
        raise AmountError(f"{text!r} is not an amount",
                          f"a number with a unit: counts {SHOWN_COUNT}; bytes {SHOWN_BYTES}, "
                          "e.g. 5M or 24GiB")
    digits, written = m.group(1).replace("_", ""), m.group(2)
    unit = written.lower()
    if len(written) >= 1 and written.endswith("b") and unit in BYTE_UNITS:
        raise AmountError(f"{text!r} is in bits (a lowercase b)",
                          f"write bytes with a capital B: {digits}{written[:-1].upper()}B "
                          f"(×1000) or {digits}{written[:-1].upper()}iB (×1024)"
                          if written[:-1] else f"write bytes with a capital B: {digits}B")
    if unit in COUNT_UNITS and (kind != "bytes" or unit == ""):
        got: AmountKind = "bytes" if kind == "bytes" else "count"
        scale = COUNT_UNITS[unit]
    elif unit in BINARY and kind != "count":
        got, scale = "bytes", BINARY[unit]
    elif unit in BYTE_UNITS and kind != "count":
        got, scale = "bytes", BYTE_UNITS[unit]
    elif unit in BYTE_UNITS or unit in BINARY:
        raise AmountError(f"{text!r} is bytes, but a count is wanted",
                          f"counts take {SHOWN_COUNT}, e.g. 5M")
    elif unit in COUNT_UNITS:
        raise AmountError(f"{text!r} has no byte unit, and an amount of memory is wanted",
                          f"write {digits}{unit.upper()}iB (×1024) or {digits}{unit.upper()}B "
                          f"(×1000); bytes take {SHOWN_BYTES}")
    else:
        accepted = (SHOWN_COUNT if kind == "count" else SHOWN_BYTES if kind == "bytes"
                    else f"counts {SHOWN_COUNT}; bytes {SHOWN_BYTES}")
        raise AmountError(f"unknown unit {written!r} in {text!r}", "accepted: " + accepted)
    from decimal import Decimal, InvalidOperation  # (not on the path of archcalc summary)
    try:
        value = Decimal(digits) * scale
    except InvalidOperation:
        raise AmountError(f"{text!r} is not an amount", "e.g. 5M or 24GiB") from None
    if value > LARGEST:
        raise AmountError(f"{text!r} is too large", f"at most {LARGEST:,}")
    return int(value.to_integral_value()), got


# ---------------------------------------------------------------------------------------------
# how amounts are shown

_COUNT_SHOWN = (("E", 10**18), ("P", 10**15), ("T", 10**12), ("G", 10**9), ("M", 10**6),
                ("K", 10**3))
_BYTES_SHOWN = (("EiB", 1 << 60), ("PiB", 1 << 50), ("TiB", 1 << 40), ("GiB", 1 << 30),
                ("MiB", 1 << 20), ("KiB", 1 << 10))


def _scaled(n: float, scale: int) -> str:
    """``n / scale`` to two decimals, exactly (integers: no float rounding on huge values; a
    float, such as a plot's axis tick, is taken at its nearest whole number first)."""
    whole = n if isinstance(n, int) else round(n)
    hundredths = (abs(whole) * 100 * 2 + scale) // (2 * scale)    # rounded half up
    sign = "-" if n < 0 else ""
    return f"{sign}{hundredths // 100}.{hundredths % 100:02d}"


def human_bytes(n: float) -> str:
    """Binary units: 1 KiB = 1024 B, 1 MiB = 1024² B, … up to EiB."""
    for unit, scale in _BYTES_SHOWN:
        if abs(n) >= scale:
            return f"{_scaled(n, scale)} {unit}"
    return f"{n} B"


def human_count(n: float) -> str:
    """Decimal units for counts: K = 10³, M = 10⁶, G = 10⁹, T = 10¹², P, E."""
    for unit, scale in _COUNT_SHOWN:
        if abs(n) >= scale:
            return f"{_scaled(n, scale)}{unit}"
    return str(n)


def exact_and_short(n: int) -> str:
    """An exact count and, where it helps, its short form: "138,357,544 (138.36M)", "112"."""
    return f"{n:,}" if abs(n) < 1000 else f"{n:,} ({human_count(n)})"


def bytes_exact(n: int) -> str:
    """Bytes in binary units with the exact count: "1.23 GiB (1,320,702,443 B)", "512 B"."""
    return f"{human_bytes(n)} ({n:,} B)" if abs(n) >= 1024 else f"{n:,} B"
