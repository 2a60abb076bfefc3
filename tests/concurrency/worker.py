"""Worker processes for the fault tests: ``python worker.py COMMAND ARGS...``.

Each command runs in a fresh interpreter (the tests start it with ``subprocess``, as the
spawn start method would), opens the database file itself and writes a JSON-lines log of
every write the database acknowledged, flushed line by line so a log outlives a
``kill -9``. The tests read the logs back and compare them with the file.

Commands:
    mixed DB LOG WORKER SEED START SECONDS PEOPLE
        capture, edit, rescore and merge until START + SECONDS (see ``_mixed``).
    batches DB LOG RUN
        commit batches in a loop until killed (see ``_batches``).
    backfill DB LOG RUN
        index new duplicate rules over the stored leads until killed (see ``_backfill``).
    read-then-score DB
        the lost-update scenario's unit A, driven over stdin/stdout.
    attach-paused DB EMAIL
        capture a resubmitted form (attached as an activity), pausing before the commit.
    hold-lock DB
        hold ``BEGIN IMMEDIATE`` on the file until told to stop over stdin.
"""

from __future__ import annotations

import functools
import json
import os
import random
import sqlite3
import sys
import time
from datetime import UTC, datetime
from typing import Any

import attrs

from leadmodel import (
    STANDARD_LEAD_RULE,
    Activity,
    ConcurrencyError,
    Condition,
    DuplicateAction,
    DuplicatePolicy,
    EmailAddress,
    FitRule,
    Lead,
    ListView,
    ScoringModel,
    services,
)
from leadmodel.adapters.sqlite import SQLiteStore, SQLiteUnitOfWork

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
POLICY = DuplicatePolicy("leads", [STANDARD_LEAD_RULE], on_create=DuplicateAction.BLOCK)
CAPTURE = services.CaptureConfig(duplicates=POLICY)
# A score that follows the description, so that rescores and edits race on one lead.
MODEL = ScoringModel(
    fit=[
        FitRule(f"note {d}", Condition("description", "ends_with", str(d)), 10 * d)
        for d in range(1, 10)
    ]
)
MERGE_POOL = ListView("merge pool", criterion=Condition("company", "starts_with", "Merge Co"))
# Several batches, so that batches commit while others edit.
RESCORE_BATCH = 4
RUSH_WAIT = 0.1  # seconds a worker waits for the next rush rather than start something
BATCH = 5  # records written by each batch of the kill test
LAST = ("Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen", "Backus")


def person(k: int, variant: int) -> dict[str, str]:
    """A web form of captured person *k*: Robert at work (0) or Bob from his gmail (1).

    The two forms share no email: the duplicate rule finds one from the other by its
    blocking keys (Metaphone of the last name with the company) and matches them by
    first name (a nickname), last name, title and company.
    """
    return {
        "name": f"{('Robert', 'Bob')[variant]} {LAST[k % len(LAST)]}",
        "email": emails(k)[variant],
        "company": f"Company {k}",
        "title": "CTO",
    }


def emails(k: int) -> tuple[str, str]:
    """The two emails person *k* submits forms with."""
    return f"person{k}@captured.example", f"bob{k}@gmail.example"


def lookup(k: int) -> list[str]:
    """The lookup keys that find person *k*'s lead, whichever form created it."""
    return [f"email:{email}" for email in emails(k)]


def rescored(k: int) -> bool:
    """Whether captured person *k*'s lead is rescored (its edits go through a unit of work).

    ``services.save`` writes the whole record it is given, read before the save opened its
    unit of work; an edit saved that way over a lead rescored meanwhile drops the score
    (reported; see test_save_lost_update.py). The workload keeps save edits off rescored
    leads so that a failure here is about the storage, not that known hole.
    """
    return k % 2 == 0


def open_store(db: str) -> Any:
    """The store at *db*: a PostgreSQL URL (``mixed`` runs on both) or a SQLite file."""
    if db.startswith("postgresql://"):
        from leadmodel.adapters.postgres import PostgresStore

        return PostgresStore(db, pool_size=2, timeout=30)
    return SQLiteStore(db)


@functools.cache
def _unit_type(store_type: type, mixin: type | None = None) -> type:
    """The unit of work class of *store_type*, with *mixin* laid over it."""
    base: type = SQLiteUnitOfWork
    if store_type is not SQLiteStore:
        from leadmodel.adapters.postgres import PostgresUnitOfWork

        base = PostgresUnitOfWork
    if mixin is None:
        return base
    return type(f"{mixin.__name__}{base.__name__}", (mixin, base), {})


def unit_of(store: Any, mixin: type | None = None, *args: Any) -> Any:
    """A unit of work over *store* (its adapter's), with *mixin*'s behaviour."""
    return _unit_type(type(store), mixin)(store, *args)


class Pausing:
    """Pauses between its reads and its commit, as a busy or descheduled process does.

    Widens the window in which another process commits the same person, so that the
    re-validated duplicate search is what keeps them from being stored twice.
    """

    def __init__(self, store: Any, pause: float) -> None:
        super().__init__(store)
        self.pause = pause
        self.conflicts = 0  # commits refused, retried inside capture_lead or by us

    def commit(self) -> None:
        time.sleep(self.pause)
        try:
            super().commit()
        except ConcurrencyError:
            self.conflicts += 1
            raise


class Recording:
    """Notes each commit that returned: when it began and the descriptions it wrote.

    A later edit hides a lost update from the file's last state; these notes let the test
    see each one (``test_no_rescore_wrote_back_a_description_a_later_edit_replaced``).
    """

    def __init__(self, store: Any) -> None:
        super().__init__(store)
        self.written: list[tuple[float, dict[str, str | None]]] = []

    def commit(self) -> None:
        began = time.time()
        staged = {
            lead_id: lead.description
            for lead_id, lead in self.leads._changes.items()  # the staged leads
            if lead is not None
        }
        super().commit()
        self.written.append((began, staged))


class Log:
    """Append-only JSON lines, written straight to the file (no buffer to lose)."""

    def __init__(self, path: str) -> None:
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

    def write(self, **entry: Any) -> None:
        os.write(self._fd, (json.dumps(entry, sort_keys=True) + "\n").encode())


# -- mixed workload --------------------------------------------------------------------


class Mixed:
    def __init__(self, db: str, log: str, worker: int, seed: int, people: int) -> None:
        self.store = open_store(db)
        self.log = Log(log)
        self.worker = worker
        self.random = random.Random(seed)  # noqa: S311 - a reproducible workload
        self.people = people
        self.counter = 0
        self.start = time.time()
        self.seconds = 1.0

    def _newest(self) -> int:
        """The person being captured now: every worker moves through them at one pace."""
        elapsed = (time.time() - self.start) / self.seconds
        return min(self.people - 1, int(elapsed * self.people))

    def _attempts(self, operation: Any) -> tuple[Any, int]:
        tries = 0

        def counted() -> Any:
            nonlocal tries
            tries += 1
            return operation()

        return services.retrying(counted, attempts=10), tries

    def _name(self, kind: str) -> str:
        self.counter += 1
        return f"w{self.worker}-{kind}-{self.counter}"

    def _unit(self) -> Any:
        return unit_of(self.store)

    def _captured(self, k: int) -> Lead | None:
        with self._unit() as uow:
            found = uow.leads.find_by_keys(lookup(k))
        return found[0] if found else None

    def capture(self, k: int | None = None) -> None:
        if k is None:  # someone captured already, most likely: blocked
            k = self.random.randrange(self._newest() + 1)
        variant = self.random.randrange(2)
        form = person(k, variant)
        started = time.time()
        uow = unit_of(self.store, Pausing, self.random.uniform(0, 0.02))
        result, tries = self._attempts(
            lambda: services.capture_lead(uow, form, CAPTURE, ids=self._name, now=NOW)
        )
        acknowledged = result.lead is not None and result.status in ("created", "pending_approval")
        self.log.write(
            op="capture" if acknowledged else "capture-refused",
            person=k,
            variant=variant,
            lead=result.lead.id if acknowledged else None,
            status=result.status,
            tries=tries,
            conflicts=uow.conflicts,
            t0=started,
            t1=time.time(),
        )

    def edit(self) -> None:
        k = self.random.randrange(self._newest() + 1)
        note = self._name("note")
        started = time.time()
        if rescored(k):

            def edit_in_one_unit() -> str | None:
                with self._unit() as uow:
                    found = uow.leads.find_by_keys(lookup(k))
                    if not found:
                        return None
                    uow.leads.update(attrs.evolve(found[0], description=note))
                    uow.commit()
                    return found[0].id

            lead_id, tries = self._attempts(edit_in_one_unit)
        else:

            def save_edit() -> str | None:
                lead = self._captured(k)
                if lead is None:
                    return None
                services.save(self._unit(), attrs.evolve(lead, description=note))
                return lead.id

            lead_id, tries = self._attempts(save_edit)
        if lead_id is not None:
            self.log.write(
                op="edit",
                lead=lead_id,
                value=note,
                tries=tries,
                t0=started,
                t1=time.time(),
            )

    def rescore(self) -> None:
        newest = self._newest()
        ids = [lead.id for k in range(0, newest + 1, 2) if (lead := self._captured(k))]
        if not ids:
            return
        started = time.time()
        units: list[Any] = []

        def unit() -> Any:
            units.append(unit_of(self.store, Recording))
            return units[-1]

        report, tries = self._attempts(
            lambda: services.rescore(unit(), MODEL, now=NOW, lead_ids=ids, batch_size=RESCORE_BATCH)
        )
        self.log.write(
            op="rescore",
            scores={event.lead_id: event.current for event in report.events},
            conflicts=list(getattr(report, "conflicts", ())),
            written=[commit for each in units for commit in each.written],
            tries=tries,
            t0=started,
            t1=time.time(),
        )

    def merge(self) -> None:
        name = self._name("pair")
        keep, absorb, call = f"{name}-a", f"{name}-b", f"{name}-call"
        email = EmailAddress.parse(f"{name}@merge.example")
        with self._unit() as uow:
            uow.leads.add(Lead(id=keep, last_name="Pair", company="Merge Co", email=email))
            uow.leads.add(
                Lead(id=absorb, last_name="Pair", company="Merge Co Inc", title="CTO", email=email)
            )
            uow.activities.add(Activity(id=call, subject_id=absorb, kind="call", occurred_at=NOW))
            uow.commit()
        self.log.write(op="pair", leads=[keep, absorb], activity=call)
        # Let the others find the pair before it is merged.
        time.sleep(self.random.uniform(0, 0.05))
        outcome, tries = self._attempts(
            lambda: services.merge_records(
                self._unit(), [keep, absorb], master=keep, merge_id=f"merge-{name}", now=NOW
            )
        )
        self.log.write(
            op="merge",
            merge_id=outcome.merge_id,
            survivor=keep,
            absorbed=[absorb],
            moved=[m.record_id for m in outcome.moved],
            tries=tries,
        )

    def edit_a_pair(self) -> None:
        """Edit a random lead of the merge pool in one unit (it may be merged meanwhile)."""
        with self._unit() as uow:  # read by select: SQL filters, only the pool is decoded
            pool = [lead.id for lead in uow.leads.select(MERGE_POOL)]
        if not pool:
            return
        lead_id = self.random.choice(pool)

        def edit() -> bool:
            with self._unit() as uow:
                lead = uow.leads.get(lead_id)
                if lead is None:
                    return False
                uow.leads.update(attrs.evolve(lead, description=self._name("note")))
                uow.commit()
                return True

        _, tries = self._attempts(edit)
        self.log.write(op="edit-pair", lead=lead_id, tries=tries)

    def run(self, start: float, seconds: float) -> None:
        time.sleep(max(0.0, start - time.time()))
        self.start, self.seconds = start, seconds
        deadline = start + seconds
        operations = [
            (self.capture, 4),
            (self.edit, 4),
            (self.rescore, 1),
            (self.merge, 1),
            (self.edit_a_pair, 1),
        ]
        choices = [op for op, weight in operations for _ in range(weight)]
        rush, interval = 0, seconds / self.people
        while time.time() < deadline:
            operation = self.random.choice(choices)
            # A rush: when person k's turn comes, every worker captures k at that moment.
            wait = start + rush * interval - time.time()
            if wait < RUSH_WAIT and rush < self.people:
                time.sleep(max(0.0, wait))
                operation, rush = functools.partial(self.capture, rush), rush + 1
            try:
                operation()
            except ConcurrencyError as error:  # every attempt conflicted: not acknowledged
                self.log.write(op="gave-up", operation=_name(operation), error=str(error))
            except Exception as error:  # noqa: BLE001 - reported to the test, which fails
                self.log.write(
                    op="error",
                    operation=_name(operation),
                    error=f"{type(error).__name__}: {error}",
                )
        self.log.write(op="done")


def _name(operation: Any) -> str:
    return str(getattr(getattr(operation, "func", operation), "__name__", operation))


# -- kill -9 -----------------------------------------------------------------------------


def _batches(db: str, log_path: str, run: int) -> None:
    """Commit batches until killed: BATCH new leads and an activity, and the counter lead.

    Says ``ready`` once the first batch is committed and logged.

    Batch ``r{run}-{n}`` adds leads ``r{run}-{n}-{j}`` carrying the batch id, an activity
    on the first, and sets the counter lead ``CTR``'s ``last`` to the batch, all in one
    commit; each acknowledged batch is logged after its commit returns.
    """
    store = SQLiteStore(db)
    log = Log(log_path)
    n = 0
    while True:
        n += 1
        batch = f"r{run:03d}-{n:05d}"
        with SQLiteUnitOfWork(store) as uow:
            counter = uow.leads.get("CTR")
            assert counter is not None
            for j in range(BATCH):
                uow.leads.add(
                    Lead(
                        id=f"{batch}-{j}",
                        last_name="Batch",
                        company="Kill Co",
                        description=f"{batch} " * 200,  # ~2 KB: commits take a while
                        custom={"batch": batch},
                    )
                )
            uow.activities.add(
                Activity(id=f"{batch}-act", subject_id=f"{batch}-0", kind="call", occurred_at=NOW)
            )
            uow.leads.update(attrs.evolve(counter, custom={"last": batch}))
            uow.commit()
        log.write(op="batch", batch=batch)
        if n == 1:  # the parent's clock starts once a batch is in, however loaded the machine
            print("ready", flush=True)  # noqa: T201 - the parent waits for it


def _backfill(db: str, log_path: str, run: int) -> None:
    """Index new duplicate rules (each back-filled over every stored lead) until killed.

    Says ``ready`` once the first rule is indexed; logs each rule once indexed.
    """
    store = SQLiteStore(db)
    log = Log(log_path)
    n = 0
    while True:
        n += 1
        name = f"r{run:03d}_{n:04d}"
        store.index_rules([attrs.evolve(STANDARD_LEAD_RULE, name=name)])
        log.write(op="indexed", rule=name)
        if n == 1:
            print("ready", flush=True)  # noqa: T201 - the parent waits for it


# -- two processes, one lead -------------------------------------------------------------


def _read_then_score(db: str) -> None:
    """Unit A: iterate, read L1, wait; then write L1's custom score and commit."""
    store = SQLiteStore(db)
    with SQLiteUnitOfWork(store) as uow:
        mine = next(lead for lead in uow.leads if lead.id == "L1")
        print("read", flush=True)  # noqa: T201 - the parent drives this unit
        sys.stdin.readline()  # B updates the title and commits meanwhile
        uow.leads.update(attrs.evolve(mine, custom={**mine.custom, "score": 99}))
        try:
            uow.commit()
        except ConcurrencyError as error:
            outcome = {"outcome": type(error).__name__, "records": list(error.records)}
        except Exception as error:  # noqa: BLE001 - the test reports what it was
            outcome = {"outcome": type(error).__name__, "message": str(error)}
        else:
            outcome = {"outcome": "committed"}
    sys.stdout.write(json.dumps(outcome) + "\n")
    sys.stdout.flush()


class _PausedOnce(SQLiteUnitOfWork):
    """Stops before its first commit until the parent says go (over stdin)."""

    paused = False

    def commit(self) -> None:
        if not self.paused:
            self.paused = True
            print("paused", flush=True)  # noqa: T201 - the parent drives this unit
            sys.stdin.readline()
        super().commit()


def _attach_paused(db: str, email: str) -> None:
    """capture_lead attaching a resubmitted form to the stored lead with *email*."""
    config = services.CaptureConfig(
        duplicates=DuplicatePolicy("alert", [STANDARD_LEAD_RULE], on_create=DuplicateAction.ALERT),
        attach_duplicates=True,
    )
    form = {"name": "Ada Lovelace", "email": email, "company": "Acme"}
    counter = iter(range(1, 1000))
    result = services.capture_lead(
        _PausedOnce(SQLiteStore(db)),
        form,
        config,
        ids=lambda kind: f"{kind}-{next(counter)}",
        now=NOW,
    )
    outcome = {"status": result.status, "attached_to": result.attached_to}
    sys.stdout.write(json.dumps(outcome) + "\n")
    sys.stdout.flush()


def _hold_lock(db: str) -> None:
    connection = sqlite3.connect(db, isolation_level=None)
    connection.execute("BEGIN IMMEDIATE")
    print("locked", flush=True)  # noqa: T201 - the parent waits for it
    sys.stdin.readline()
    connection.execute("ROLLBACK")
    connection.close()


def main(argv: list[str]) -> None:
    command, *args = argv
    if command == "mixed":
        db, log, worker, seed, start, seconds, people = args
        Mixed(db, log, int(worker), int(seed), int(people)).run(float(start), float(seconds))
    elif command == "batches":
        _batches(args[0], args[1], int(args[2]))
    elif command == "backfill":
        _backfill(args[0], args[1], int(args[2]))
    elif command == "read-then-score":
        _read_then_score(args[0])
    elif command == "attach-paused":
        _attach_paused(args[0], args[1])
    elif command == "hold-lock":
        _hold_lock(args[0])
    else:
        raise SystemExit(f"unknown command {command!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
