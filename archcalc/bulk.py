"""Building a large network makes hundreds of thousands of small records (layers, positions,
rows, receptive fields). CPython's cyclic garbage collector runs after every few hundred new
container objects and, as they accumulate, repeatedly traverses all of them: for a
100,000-layer spec that alone cost about a third of parse + analyze. archcalc's records hold no
reference cycles, so parsing and analysis pause the collector and restore it afterwards (it then
runs as usual, and collects whatever cycles an error's traceback left)."""
from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector for the block (or, as a decorator, the function)
    if it is enabled; nesting is free."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        # what was made meanwhile joins the oldest generation at once (freeze, then unfreeze,
        # moves the lists without visiting an object): the next young collection does not
        # traverse the 100,000s of records just built, which cost 0.1 s for a 100k-layer spec
        gc.freeze()
        gc.unfreeze()
        gc.enable()
