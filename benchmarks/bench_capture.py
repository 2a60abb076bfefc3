"""Capture pipeline throughput: forms in, leads saved, over 100,000 stored leads.

Run: python benchmarks/bench_capture.py [--quick] [--existing N] [--forms N]

Stores N existing leads (100,000 by default) in the memory adapter, then captures forms
through ``services.capture_lead`` with every step on: parsing, a duplicate policy
(the standard lead rule, alert on create) checked against stored leads and contacts,
a 6-rule scoring model, a qualification policy, round-robin assignment, a workflow rule
and an auto-response, sent to a memory notifier. One form in ten repeats a stored
person (a duplicate). Prints captures per second on one core, beside the same forms
only parsed (``parse_web_form``) in the same run.
"""

from __future__ import annotations

import argparse
import platform
import random
import sys
import time
from datetime import UTC, datetime

from synthetic_leads import iter_leads

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
    rng = random.Random(seed)
    out = []
    for i in range(n):
        if rng.random() < 0.1:
            out.append(rng.choice(people))  # someone already stored
            continue
        out.append(
            {
                "first_name": f"First{i}",
                "last_name": f"Last{i}",
                "email": f"person{i}@company{i % 997}.example",
                "phone": f"+1 415 555 {i % 10000:04d}",
                "company": f"Company {i % 997}",
                "title": rng.choice(["Chief Executive", "VP Sales", "Engineer", "Student"]),
                "lead_source": rng.choice(["Web", "Fair"]),
                "utm_campaign": "spring",
            }
        )
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10,000 stored, 1,000 forms")
    parser.add_argument("--existing", type=int, default=100_000)
    parser.add_argument("--forms", type=int, default=5_000)
    args = parser.parse_args()
    existing = 10_000 if args.quick else args.existing
    count = 1_000 if args.quick else args.forms
    store = MemoryStore()
    start = time.perf_counter()
    people: list[dict[str, str]] = []
    with MemoryUnitOfWork(store) as uow:
        for lead, _ in iter_leads(existing, seed=3):
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
    print(
        f"python {platform.python_version()} on {platform.machine()}: {existing:,} stored leads "
        f"in {time.perf_counter() - start:.1f} s; {count:,} forms, one in ten a stored person"
    )
    batch = forms(count, people)
    ids = SequentialIds(prefix="new-")
    start = time.perf_counter()
    for form in batch:
        parse_web_form(form, FormSpec.default(), ids=ids, now=NOW)
    parse_rate = count / (time.perf_counter() - start)

    notifier = MemoryNotifier()
    state = None
    statuses: dict[str, int] = {}
    start = time.perf_counter()
    for form in batch:
        result = capture_lead(
            MemoryUnitOfWork(store), form, CONFIG, ids=ids, now=NOW, state=state, notifier=notifier
        )
        state = result.state
        statuses[result.status] = statuses.get(result.status, 0) + 1
        if result.duplicates is not None and result.duplicates.matches:
            statuses["with a duplicate alert"] = statuses.get("with a duplicate alert", 0) + 1
    seconds = time.perf_counter() - start
    print(f"{'parse_web_form only':<40}{parse_rate:>10,.0f} forms/s")
    print(f"{'capture_lead, every step':<40}{count / seconds:>10,.0f} captures/s (target 2,000)")
    print(f"   outcomes: {statuses}; {len(notifier.sent):,} notifications sent")
    return 0


if __name__ == "__main__":
    sys.exit(main())
