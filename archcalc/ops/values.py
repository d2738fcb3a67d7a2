"""Public value coercion: what a spec or an option writes (text, numbers, lists) made into the
values the ops and the settings use, with one located error naming what was received, what is
allowed and an example. Every front-end and every op uses these; nothing keeps a private copy
(in the manner of Keras's ``argument_validation``).

Each function raises an :class:`~archcalc.errors.ArchcalcError` of kind ``"spec"``; a caller
reading a command-line option turns it into a usage error (``exc.as_kind("usage")``).
"""
from __future__ import annotations

import difflib
import re
from typing import Any

from ..errors import Diagnostic, SourcePos, error

Vol = tuple[int, int, int]
Pair = tuple[int, int]

# The most any count may be: larger values are refused before anything is allocated.
MAX_DIM = 1 << 31
ROUNDINGS = ("covered", "exact", "floor", "ceil")
DEFAULT_ROUNDING = "covered"


def as_int(value: Any, what: str, pos: SourcePos, minimum: int = 1) -> int:
    """A whole number ≥ ``minimum`` (and ≤ MAX_DIM): an int, a whole float, or digits."""
    number: int
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer():
            number = int(value)
        elif isinstance(value, str) and value.strip().lstrip("-").isdigit():
            number = int(value.strip())
        else:
            example = "3"
            try:
                as_float_ = float(value)
                if as_float_.is_integer() and abs(as_float_) < 2 ** 63:
                    example = str(int(as_float_))   # 1e3 (YAML reads it as text) → 1000
            except (TypeError, ValueError, OverflowError):
                pass
            raise error(f"{what} must be a whole number, got {value!r}", pos,
                        hint=f"write {what} as an integer such as {example}")
    else:
        number = value
    if number < minimum:
        raise error(f"{what} must be at least {minimum}, got {number}", pos,
                    hint=f"give a whole number of {minimum} or more" + (
                        " (a layer that should not be there is removed, not made empty)"
                        if number == 0 and minimum >= 1 else ""))
    if number > MAX_DIM:
        raise error(f"{what} = {number} is too large (the limit is {MAX_DIM:,})", pos,
                    hint="archcalc refuses sizes that could not be allocated on any device")
    return number


def as_pair(value: Any, what: str, pos: SourcePos, minimum: int = 1) -> Pair:
    """One number (both axes) or a pair [h, w]."""
    if isinstance(value, str) and re.fullmatch(r"\s*\d+\s*[x×*,]\s*\d+\s*", value):
        h, w = re.split(r"[x×*,]", value)
        raise error(f"{what} must be one number or a pair [h, w], got {value!r}", pos,
                    hint=f"write {what}: [{h.strip()}, {w.strip()}]"
                    + (f" (or {what}: {h.strip()})" if h.strip() == w.strip() else ""))
    if isinstance(value, (list, tuple)):
        if len(value) != 2:
            raise error(f"{what} must be one number or a pair [h, w], got {list(value)!r}", pos)
        return (as_int(value[0], what, pos, minimum), as_int(value[1], what, pos, minimum))
    v = as_int(value, what, pos, minimum)
    return (v, v)


def as_bool(value: Any, what: str, pos: SourcePos) -> bool:
    """true/false (also yes/no, on/off, any case)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "yes", "on", "false", "no", "off"):
        return value.lower() in ("true", "yes", "on")
    raise error(f"{what} must be true or false, got {value!r}", pos)


def as_float(value: Any, what: str, pos: SourcePos) -> float:
    """A number (YAML 1.1 reads ``1e-6`` without a dot as text: taken as a number)."""
    if isinstance(value, str) and re.fullmatch(r"\s*[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+\s*", value):
        return float(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise error(f"{what} must be a number, got {value!r}", pos,
                    hint=f"write {what} as a number such as 0.001 or 1e-5")
    return float(value)


def as_padding(value: Any, pos: SourcePos, sides: bool = False) -> str | Pair | tuple[int, ...]:
    """``same``, ``valid``, one number, a pair [h, w], or where ``sides`` allows it (sliding
    windows) four numbers [top, bottom, left, right], as the pad op and as TensorFlow's SAME
    padding pads an even total (more at the bottom and right)."""
    if sides and isinstance(value, (list, tuple)) and len(value) == 4:
        return tuple(as_int(v, "padding", pos, minimum=0) for v in value)
    if isinstance(value, str) and value.lower() in ("same", "valid"):
        return value.lower()
    if isinstance(value, str) and not value.strip().isdigit():
        near = difflib.get_close_matches(value.lower(), ["same", "valid"], n=1, cutoff=0.5)
        raise error(f"padding must be same, valid, a number or a pair [h, w], got {value!r}", pos,
                    hint=(f"did you mean {near[0]!r}? " if near else "")
                    + "same keeps the size (odd kernels), valid is no padding, 1 pads one pixel "
                      "per side")
    return as_pair(value, "padding", pos, minimum=0)


def as_rounding(value: Any, pos: SourcePos, what: str = "rounding") -> str | None:
    """One of ROUNDINGS (any case), or None where none is given."""
    if value is None:
        return None
    if isinstance(value, str) and value.strip().lower() in ROUNDINGS:
        return value.strip().lower()
    raise error(f"{what} must be one of {', '.join(ROUNDINGS)}, got {value!r}", pos,
                hint="covered (the default): floor, unless that leaves real input pixels unseen; "
                     "exact: a non-whole output size is an error; floor: PyTorch; ceil: Caffe "
                     "pooling")


def volume_hint(parts: list[Any] | None) -> str:
    """What a malformed input volume probably meant."""
    nums = [str(p).strip() for p in parts or []]
    if all(n.isdigit() for n in nums) and nums:
        if len(nums) == 1:
            return (f"write it as {nums[0]}x{nums[0]}x3 for a square RGB image (height, width, "
                    "channels)")
        if len(nums) == 2:
            return f"write it as {nums[0]}x{nums[1]}x3 for an RGB image (height, width, channels)"
        if len(nums) == 4:          # N×C×H×W, as PyTorch prints a batch
            return (f"the batch is --batch: for PyTorch's N×C×H×W {'x'.join(nums)} write "
                    f"{nums[2]}x{nums[3]}x{nums[1]} --batch {nums[0]}")
    return "write it as 224x224x3 (or [224, 224, 3] in YAML)"


def as_volume(value: Any, pos: SourcePos, what: str = "input size") -> Vol:
    """A volume H×W×C from ``224x224x3``, ``[224, 224, 3]`` or ``(224, 224, 3)``."""
    if isinstance(value, str):
        parts: list[Any] | None = [p.strip() for p in value.lower().strip().strip("[]()")
                                   .replace("×", "x").replace(",", "x").split("x")]
    elif isinstance(value, (list, tuple)):
        parts = list(value)
    else:
        parts = None
    if not parts or len(parts) != 3:
        raise error(f"an input volume is H×W×C, got {value!r}", pos, hint=volume_hint(parts))
    h, w, c = (as_int(p, what, pos) for p in parts)
    return (h, w, c)


def choice(value: Any, allowed: tuple[str, ...] | list[str], what: str, pos: SourcePos,
           example: str | None = None) -> str:
    """``value`` as one of ``allowed`` (any case), or an error naming them with the closest."""
    word = value.strip().lower() if isinstance(value, str) else value
    if isinstance(word, str) and word.startswith("="):          # -F=json
        word = word[1:]
    if word in allowed:
        return word
    near = difflib.get_close_matches(str(word), list(allowed), n=1, cutoff=0.6)
    raise error(f"{what} must be one of {', '.join(allowed)}, got {value!r}", pos,
                hint=(f"did you mean {near[0]!r}? " if near else "")
                + f"e.g. {example or (what if what.endswith('=') else what + ' ') + allowed[0]}")


def near(word: str, choices: Any) -> str:
    """ "did you mean 'x'? " for the closest of ``choices``, or nothing."""
    found = difflib.get_close_matches(str(word), list(choices), n=1, cutoff=0.6)
    return f"did you mean {found[0]!r}? " if found else ""


def channels_first_warning(vol: Vol, pos: SourcePos, language: str) -> Diagnostic | None:
    """A warning when an input volume looks written in PyTorch's C×H×W order: a height of 1, 3 or
    4 (the usual channel counts) before a width and depth both over 4, as in 3x224x224."""
    h, w, c = vol
    if h not in (1, 3, 4) or w <= 4 or c <= 4:
        return None
    fixed = f"{w}x{c}x{h}"
    spelled = f"input: {fixed}" if language == "yaml" and pos.file != "<options>" else f"-i {fixed}"
    return Diagnostic("warning", f"the input {h}x{w}x{c} is read as H = {h}, W = {w}, C = {c}: "
                      "archcalc reads H×W×C, while PyTorch writes C×H×W", pos,
                      f"did you mean {spelled}?", "input")


def as_written(v: Any) -> str:
    """A value as a spec or ``--set`` writes it: 0.75, 160, [3,4,6,3], bf16, true."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (list, tuple)):
        return "[" + ",".join(as_written(x) for x in v) + "]"
    return str(v)
