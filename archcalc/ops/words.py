"""Words in messages, said right: a count with its noun in the number it takes (``1 layer``,
``2 layers``), the article a word takes (``an int8 figure``, ``a 3×3 kernel``), and the close
name a did-you-mean may suggest (only a close one).

These are for every message archcalc writes; they sit with the op table, the lowest layer that
composes messages, so that every package above can use them.
"""
from __future__ import annotations

import difflib
from collections.abc import Iterable

# nouns whose plural is not the singular with an s
_IRREGULAR = {"axis": "axes", "child": "children", "index": "indices", "matrix": "matrices",
              "vertex": "vertices"}


def plural(noun: str) -> str:
    """``noun``'s plural: ``layer`` → ``layers``, ``box`` → ``boxes``, ``axis`` → ``axes``; a
    phrase's last word (``input row`` → ``input rows``)."""
    head, _, last = noun.rpartition(" ")
    if last in _IRREGULAR:
        word = _IRREGULAR[last]
    elif last.endswith(("s", "x", "z", "ch", "sh")):
        word = last + "es"
    elif last.endswith("y") and last[-2:-1] not in ("a", "e", "i", "o", "u", ""):
        word = last[:-1] + "ies"
    else:
        word = last + "s"
    return f"{head} {word}" if head else word


def counted(n: int | float, noun: str, many: str | None = None) -> str:
    """``n`` with ``noun`` in the number it takes, thousands separated: ``1 layer``,
    ``0 layers``, ``1,024 channels``; ``many`` where the plural is not regular."""
    shown = f"{n:,}" if isinstance(n, int) else f"{n:g}"
    return f"{shown} {noun if n == 1 else many or plural(noun)}"


# the starts of words whose sound differs from their first letter's: a vowel letter said as a
# consonant ("a uint8", "a unit"), a consonant said as a vowel ("an fp16": eff-pee, "an hour")
_CONSONANT_SOUND = ("uint", "uni", "use", "usu", "one", "once", "eu")
_VOWEL_SOUND = ("fp", "hour", "honest", "honour", "honor")


def article(word: str) -> str:
    """``a`` or ``an`` for ``word`` as it is said: ``an int8``, ``a uint8``, ``an fp16``,
    ``a bf16``, ``an 8-bit``, ``an 11×11``, ``a 1×1``, ``an 18``, ``a 3×3``."""
    w = word.strip().lstrip("'\"`(")
    if not w:
        return "a"
    if w[0].isdigit():
        run = ""
        for c in w:
            if not c.isdigit():
                break
            run += c
        # 8, 80 … 89, 800 …, and 11, 18, 11,000 … 18,999: "eight…", "eleven", "eighteen"
        return "an" if run.startswith("8") or (len(run) % 3 == 2 and
                                               run.startswith(("11", "18"))) else "a"
    low = w.lower()
    if low.startswith(_CONSONANT_SOUND):
        return "a"
    if low.startswith(_VOWEL_SOUND):
        return "an"
    return "an" if low[0] in "aeiou" else "a"


# ---------------------------------------------------------------------------------------------
# close names

def _distance(a: str, b: str) -> int:
    """Edits (insert, delete, replace, or swap two neighbours) that turn ``a`` into ``b``: the
    optimal-string-alignment distance."""
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = a[i - 1] != b[j - 1]
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        prev2, prev = prev, cur
    return prev[-1]


def _allowed(n: int) -> int:
    """The edits a name of ``n`` characters may be off by and still be "close": none for one or
    two characters (every short name would be close), one up to 4, two up to 8, three beyond."""
    return 0 if n <= 2 else 1 if n <= 4 else 2 if n <= 8 else 3


def closest(word: str, choices: Iterable[str]) -> str | None:
    """The one of ``choices`` that ``word`` was probably meant to be, or None where none is
    close: at most a few edits away for its length (a typo: ``convv`` → ``conv``, ``gloabl_avgpool``
    → ``global_avgpool``), or one of them the start of the other, four characters or more
    (``concatenate`` → ``concat``). Case is ignored; of equally close names the most similar
    (difflib's ratio), then the first, wins. ``attention`` is close to nothing archcalc knows:
    difflib alone would offer ``flatten``."""
    key = str(word).lower()
    best: tuple[float, float, int] | None = None
    found = None
    for i, choice in enumerate(choices):
        c = choice.lower()
        d = _distance(key, c)
        short, long_ = sorted((key, c), key=len)
        prefix = len(short) >= 4 and long_.startswith(short)
        if d > _allowed(max(len(key), len(c))) and not prefix:
            continue
        rank = (0.0 if d <= _allowed(max(len(key), len(c))) else 1.0,
                d - difflib.SequenceMatcher(None, key, c).ratio(), i)
        if best is None or rank < best:
            best, found = rank, choice
    return found
