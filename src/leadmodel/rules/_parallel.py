"""Preparing a large table's records on several cores.

Preparing records (reading fields, normalising them, computing blocking keys) is most of
the work of :func:`~leadmodel.find_duplicates` on a large table, and every record is
prepared on its own, so the work splits into contiguous slices. Worker processes are
*forked*: they inherit the records instead of receiving them pickled (records need not be
picklable), and send back only prepared values and keys (text and numbers). The slices
are put back in order, so the result is identical to preparing on one core.

Used automatically from :data:`PARALLEL_FROM` records when the machine has several cores
and the process may fork safely: the ``fork`` start method exists (Linux, macOS) and the
process runs a single thread (forking a threaded process can deadlock) and is not a
daemonic worker itself. Otherwise, and whenever a worker fails, records are prepared in
the calling process, which then raises whatever one record's preparation raises.
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
import threading
from collections.abc import Callable, Sequence
from typing import Any, Final

from leadmodel.rules.matching import CompiledRule, Prepared

Blocked = tuple[Prepared, tuple[tuple[Any, ...], ...]]
Progress = Callable[[str, int, int], None]

PARALLEL_FROM: Final = 250_000
"""From this many records, preparation is spread over the machine's cores."""
_MAX_WORKERS: Final = 8
_PROGRESS_EVERY: Final = 10_000

# What forked workers prepare: set by the parent just before forking, read by the
# children (which inherit it), cleared afterwards.
_JOB: list[tuple[CompiledRule, Sequence[object]]] = []


def cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def can_fork() -> bool:
    """Whether forking worker processes is safe here (see the module's notes)."""
    return (
        "fork" in multiprocessing.get_all_start_methods()
        and threading.active_count() == 1
        and not multiprocessing.current_process().daemon
    )


def automatic_workers(total: int) -> int:
    """The processes to prepare *total* records with (1: the calling process alone)."""
    if total < PARALLEL_FROM or not can_fork():
        return 1
    return max(1, min(cores(), _MAX_WORKERS))


def _prepare_slice(bounds: tuple[int, int]) -> list[Blocked]:
    compiled, items = _JOB[0]
    prepare = compiled.prepare_blocked
    return [prepare(items[i]) for i in range(*bounds)]


def prepare_all(
    compiled: CompiledRule,
    items: Sequence[object],
    progress: Progress | None = None,
    *,
    workers: int | None = None,
) -> list[Blocked]:
    """``compiled.prepare_blocked(record)`` for every record, in order.

    *workers* is the number of processes (the caller's included); ``None`` chooses
    with :func:`automatic_workers`. Progress is reported as stage ``"prepare"``.
    """
    total = len(items)
    count = automatic_workers(total) if workers is None else max(1, min(workers, total))
    if count > 1 and "fork" in multiprocessing.get_all_start_methods():
        found = _prepare_forked(compiled, items, count, progress)
        if found is not None:
            return found
    return _prepare_here(compiled, items, 0, total, progress)


def _prepare_here(
    compiled: CompiledRule,
    items: Sequence[object],
    start: int,
    end: int,
    progress: Progress | None,
) -> list[Blocked]:
    prepare = compiled.prepare_blocked
    total = len(items)
    results: list[Blocked] = []
    for index in range(start, end):
        results.append(prepare(items[index]))
        if progress is not None and (index + 1) % _PROGRESS_EVERY == 0:
            progress("prepare", index + 1, total)
    if progress is not None:
        progress("prepare", end, total)
    return results


def _prepare_forked(
    compiled: CompiledRule,
    items: Sequence[object],
    count: int,
    progress: Progress | None,
) -> list[Blocked] | None:
    """Prepare the first slice here and the others in forked workers; ``None`` on failure."""
    total = len(items)
    edges = [total * k // count for k in range(count + 1)]
    slices = list(itertools.pairwise(edges))
    _JOB.append((compiled, items))
    try:
        context = multiprocessing.get_context("fork")
        with context.Pool(count - 1) as pool:
            pending = pool.map_async(_prepare_slice, slices[1:], chunksize=1)
            first = _prepare_here(compiled, items, *slices[0], progress)
            rest = pending.get()
    except Exception:  # noqa: BLE001 - any worker failure: prepare here instead
        return None
    finally:
        _JOB.clear()
    for part in rest:
        first.extend(part)
    if progress is not None:
        progress("prepare", total, total)
    return first
