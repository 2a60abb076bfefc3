"""Capture pipeline throughput: forms in, leads saved, over 100,000 stored leads.

Run: python benchmarks/bench_capture.py [--quick] [--store memory|sqlite] [--existing N]
[--forms N] [--on-duplicate alert|block|allow]

Stores N existing leads (100,000 by default) in the memory adapter, or with
``--store sqlite`` in a SQLite file (WAL, in a temporary directory), then captures forms
through ``services.capture_lead`` with every step on: parsing, a duplicate policy
(the standard lead rule; alert on create, or ``--on-duplicate``) checked against stored
leads and contacts, a 6-rule scoring model, a qualification policy, round-robin
assignment, a workflow rule and an auto-response, sent to a memory notifier. Each capture
is its own unit of work (one SQLite transaction). New people come from the realistic
generator of ``synthetic_leads``; one form in ten repeats a stored person (a duplicate).
One capture before the timed ones is reported apart: work a release does once per store,
such as indexing the stored records for the duplicate rules. Prints captures per second on
one core, beside the same forms only parsed (``parse_web_form``) in the same run, and a
last machine-readable line ``RESULT captures_per_s=<value>``.

Only APIs present in the previous release are used, so ``benchmarks/compare_release.py``
can run this script under both releases' interpreters. A release whose stores do not index
duplicate rules' keys (before issue 14) gets them through its store's key function, its
documented remedy, so both releases index, search and compare the same candidates and
reach the same outcomes; ``--baseline-keys off`` runs such a release as it was by default
(finding candidates by email and phone only). The SQLite default (``--store
sqlite``: 100,000 stored leads, 20,000 forms) takes about 20-30 s.
"""

from __future__ import annotations

import argparse
import platform
import random
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import attrs
from synthetic_leads import iter_leads

import leadmodel
from leadmodel import (
    STANDARD_LEAD_RULE,
    AssignmentRule,
    AutoResponseRule,
    Condition,
    DuplicateAction,
    DuplicatePolicy,
    FitRule,
    FormSpec,
    Notify,
    QualificationPolicy,
    Queue,
    Requirement,
    RoundRobin,
    RuleEntry,
    ScoringModel,
    Trigger,
    WorkflowRule,
    parse_web_form,
)
from leadmodel.adapters.memory import MemoryNotifier, MemoryStore, MemoryUnitOfWork, SequentialIds
from leadmodel.adapters.sqlite import SQLiteStore, SQLiteUnitOfWork
from leadmodel.ports import lookup_keys
from leadmodel.services import CaptureConfig, capture_lead

NOW = datetime(2026, 5, 4, 9, tzinfo=UTC)
ANY = Condition("last_name", "is_not_blank")
CONFIG = CaptureConfig(
    duplicates=DuplicatePolicy("leads", [STANDARD_LEAD_RULE], on_create=DuplicateAction.ALERT),
    scoring=ScoringModel(
        fit=[
            FitRule("web", Condition("source", "eq", "Web"), 20),
            FitRule("exec", Condition("title", "contains", "chief"), 25),
            FitRule("vp", Condition("title", "starts_with", "VP"), 15),
            FitRule("email", Condition("email", "is_not_blank"), 10),
            FitRule("phone", Condition("phone", "is_not_blank"), 10),
            FitRule("student", Condition("title", "contains", "student"), -30),
        ],
        name="inbound",
    ),
    qualification=QualificationPolicy(
        requirements=[
            Requirement("email", Condition("email", "is_not_blank")),
            Requirement("company", Condition("company", "is_not_blank")),
        ],
        min_lead_score=60,
    ),
    assignment=AssignmentRule(
        [RuleEntry(Condition("source", "eq", "Web"), RoundRobin(["ann", "bob", "cem"]), "new")],
        default_owner=Queue("triage"),
    ),
    workflows=[WorkflowRule("hot", Trigger.score_crossed(60), ANY, [Notify("owner", "hot")])],
    auto_response=AutoResponseRule([], default_template="thanks", default_sender="s@x.io"),
)


def forms(n: int, people: list[dict[str, str]], seed: int = 4) -> list[dict[str, str]]:
    """*n* submissions: one in ten from a stored person, the others from new people.

    New people come from the same realistic generator as the stored leads (another seed,
    no injected duplicates), so names, companies, emails and phones look like real traffic:
    a fuzzy duplicate rule finds the repeats, not near-identical made-up names.
    """
    rng = random.Random(seed)
    new_people = iter_leads(n, seed=seed, duplicate_rate=0.0)
    out = []
    for _ in range(n):
        if rng.random() < 0.1:
            out.append(rng.choice(people))  # someone already stored
            continue
        lead, _ = next(new_people)
        out.append(
            {
                "first_name": lead.first_name or "",
                "last_name": lead.last_name,
                "email": str(lead.email) if lead.email is not None else "",
                "phone": str(lead.phone) if lead.phone is not None else "",
                "company": lead.company or "",
                "title": rng.choice(["Chief Executive", "VP Sales", "Engineer", "Student"]),
                "lead_source": rng.choice(["Web", "Fair"]),
                "utm_campaign": "spring",
            }
        )
    return out


def stored_people(store: object, make: type, existing: int) -> list[dict[str, str]]:
    """Store *existing* generated leads (committed every 20,000); a thousand of them as forms."""
    people: list[dict[str, str]] = []
    uow = make(store)
    batch = 20_000
    leads = iter_leads(existing, seed=3)
    for start in range(0, existing, batch):
        with uow:
            for lead, _ in (next(leads) for _ in range(min(batch, existing - start))):
                uow.leads.add(lead)
                if len(people) < 1000 and lead.email is not None:
                    people.append(
                        {
                            "first_name": lead.first_name or "",
                            "last_name": lead.last_name,
                            "email": str(lead.email),
                            "company": lead.company or "",
                        }
                    )
            uow.commit()
    return people


def _rule_keys_for_a_release_without_index_rules(kind: str) -> dict[str, object]:
    """The same work under a release whose stores do not index duplicate rules' keys.

    Such a release (before issue 14) searched a rule's blocking keys in a store that never
    indexed them, so it found candidates by email and phone only (the silent-duplicate
    bug). Its documented remedy was a store built with a key function that adds the rule's
    keys: given here, so both releases index, search and compare the same candidates.
    ``--baseline-keys off`` measures such a release as it ran by default.
    """
    store_type = SQLiteStore if kind == "sqlite" else MemoryStore
    if hasattr(store_type, "index_rules") or BASELINE_KEYS == "off":
        return {}
    compiled = STANDARD_LEAD_RULE.compile()

    def keys(record: object) -> tuple[str, ...]:
        return (*lookup_keys(record), *compiled.keys(record))

    print("INFO baseline_keys=rule keys through the store's key function")
    return {"keys": keys}


BASELINE_KEYS = "auto"


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10,000 stored, 1,000 forms")
    parser.add_argument("--store", choices=["memory", "sqlite"], default="memory")
    parser.add_argument("--existing", type=int, default=None, help="100,000 by default")
    parser.add_argument(
        "--forms", type=int, default=None, help="5,000 (memory) or 20,000 (sqlite) by default"
    )
    parser.add_argument(
        "--on-duplicate",
        choices=["alert", "block", "allow"],
        default="alert",
        help="the duplicate policy's action on create (default alert: saved, matches shown)",
    )
    parser.add_argument(
        "--baseline-keys",
        choices=["auto", "off"],
        default="auto",
        help="auto: a release without index_rules gets the rule's keys from its store's key "
        "function (the same work); off: as it ran by default",
    )
    return parser.parse_args()


def main() -> int:
    args = _arguments()
    global BASELINE_KEYS  # noqa: PLW0603 - one switch for the helper above
    BASELINE_KEYS = args.baseline_keys
    existing = args.existing if args.existing is not None else 10_000 if args.quick else 100_000
    default_forms = 1_000 if args.quick else 20_000 if args.store == "sqlite" else 5_000
    count = args.forms if args.forms is not None else default_forms
    config = attrs.evolve(
        CONFIG,
        duplicates=attrs.evolve(CONFIG.duplicates, on_create=DuplicateAction(args.on_duplicate)),
    )
    print(f"leadmodel.__file__ = {leadmodel.__file__}")
    with tempfile.TemporaryDirectory() as directory:
        keys = _rule_keys_for_a_release_without_index_rules(args.store)
        if args.store == "sqlite":
            store: object = SQLiteStore(Path(directory) / "capture.db", **keys)
            make: type = SQLiteUnitOfWork
        else:
            store, make = MemoryStore(**keys), MemoryUnitOfWork
        start = time.perf_counter()
        people = stored_people(store, make, existing)
        print(
            f"python {platform.python_version()} on {platform.machine()}: {existing:,} stored "
            f"leads ({args.store}) in {time.perf_counter() - start:.1f} s; {count:,} forms, "
            f"one in ten a stored person; duplicates: {args.on_duplicate}"
        )
        first, *batch = forms(count + 1, people)
        ids = SequentialIds(prefix="new-")
        start = time.perf_counter()
        for form in batch:
            parse_web_form(form, FormSpec.default(), ids=ids, now=NOW)
        parse_rate = count / (time.perf_counter() - start)

        notifier = MemoryNotifier()
        # One capture before the clock starts: work done once per store (a release may index
        # the duplicate rules' keys of the stored records on first use) is timed apart.
        start = time.perf_counter()
        state = capture_lead(make(store), first, config, ids=ids, now=NOW, notifier=notifier).state
        first_seconds = time.perf_counter() - start
        statuses: dict[str, int] = {}
        start = time.perf_counter()
        for form in batch:
            result = capture_lead(
                make(store), form, config, ids=ids, now=NOW, state=state, notifier=notifier
            )
            state = result.state
            statuses[result.status] = statuses.get(result.status, 0) + 1
            if result.duplicates is not None and result.duplicates.matches:
                statuses["with a duplicate match"] = statuses.get("with a duplicate match", 0) + 1
        seconds = time.perf_counter() - start
        if isinstance(store, SQLiteStore):
            stored = store.count("lead")
            store.close()
        else:
            stored = existing + statuses.get("created", 0)
    rate = count / seconds
    print(f"{'first capture (untimed below)':<40}{first_seconds * 1000:>10,.1f} ms")
    print(f"{'parse_web_form only':<40}{parse_rate:>10,.0f} forms/s")
    print(f"{'capture_lead, every step (' + args.store + ')':<40}{rate:>10,.0f} captures/s")
    print(f"   outcomes: {statuses}; {len(notifier.sent):,} notifications sent; {stored:,} leads")
    print(f"INFO first_capture_ms={first_seconds * 1000:.1f}")
    print(f"RESULT captures_per_s={rate:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
