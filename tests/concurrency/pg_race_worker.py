"""A worker process of test_postgres_race.py (imported by the spawned interpreters).

Each worker opens its own :class:`PostgresStore` and, person after person, waits at a
barrier shared by every worker, then captures that person through
``services.capture_lead`` with the standard duplicate policy (the forms and policy of
``worker.py``, the SQLite fault tests' worker). Its unit of work pauses a little before
committing, so that all the workers' searches are made before any commit.
"""

from __future__ import annotations

import itertools
import random
import time
from typing import Any

from worker import CAPTURE, NOW, person

from leadmodel import ConcurrencyError, services
from leadmodel.adapters.postgres import PostgresStore, PostgresUnitOfWork


class PausingUnitOfWork(PostgresUnitOfWork):
    """Pauses between its reads and its commit; counts the commits refused."""

    def __init__(self, store: PostgresStore, pause: float) -> None:
        super().__init__(store)
        self.pause = pause
        self.conflicts = 0

    def commit(self) -> None:
        time.sleep(self.pause)
        try:
            super().commit()
        except ConcurrencyError:
            self.conflicts += 1
            raise


def run(url: str, worker: int, people: int, barrier: Any, results: Any) -> None:
    """Capture persons ``0 .. people - 1``, each at the moment every worker does."""
    chance = random.Random(worker)  # noqa: S311 - a reproducible workload
    counter = itertools.count()
    outcomes = []
    try:
        with PostgresStore(url, pool_size=2, timeout=30) as store:
            for k in range(people):
                barrier.wait(timeout=120)
                form = person(k, (worker + k) % 2)  # Robert at work or Bob on gmail
                uow = PausingUnitOfWork(store, chance.uniform(0, 0.01))
                result = services.retrying(
                    lambda uow=uow, form=form: services.capture_lead(
                        uow,
                        form,
                        CAPTURE,
                        ids=lambda kind: f"w{worker}-{kind}-{next(counter)}",
                        now=NOW,
                        attempts=10,
                    ),
                    attempts=10,
                )
                lead = result.lead.id if result.lead is not None else None
                outcomes.append((k, result.status, lead, uow.conflicts))
    except BaseException as exc:  # noqa: BLE001 - reported to the test, which fails with it
        barrier.abort()
        results.put((worker, "error", f"{type(exc).__name__}: {exc}"))
        return
    results.put((worker, "ok", outcomes))
