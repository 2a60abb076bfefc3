"""Rule-based scoring: a compiled 20-rule model against a hand-written if-chain, in one run.

Run: python benchmarks/bench_scoring.py [--quick] [--leads N] [--with-activities N]

The model has 20 fit rules (text in lists, numbers, ranges, an address part, custom fields,
tags, blanks, a negation) and 5 engagement rules (caps, a time window, linear decay, a
half-life, a time frame). It scores N leads (1,000,000 by default) four ways:

- ``compiled.totals(leads)``: totals only, no activities;
- a hand-written if-chain computing the same points on the same leads (the floor);
- ``compiled.score(lead)`` for each lead: the fully explained score, no activities;
- ``score(lead, model)``: the same through the top-level function;

then the explained score and the totals of fewer leads (100,000 by default) with 10
activities each. It checks that all of them agree and prints leads per second and ratios.
"""

from __future__ import annotations

import argparse
import platform
import random
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from leadmodel import (
    Activity,
    Address,
    All,
    Condition,
    Decay,
    EngagementRule,
    FitRule,
    Lead,
    Not,
    ScoreGroup,
    ScoringModel,
    TimeWindow,
    score,
)

NOW = datetime(2026, 6, 1, tzinfo=UTC)

MODEL = ScoringModel(
    fit=[
        FitRule("web", Condition("source", "in", ("Web", "Partner Referral")), 10),
        FitRule("cold call", Condition("source", "eq", "Cold Call"), -5),
        FitRule("big", Condition("employees", "gte", 500), 15),
        FitRule("mid", Condition("employees", "between", (50, 499)), 8),
        FitRule("tiny", Condition("employees", "lt", 10), -10),
        FitRule("tech", Condition("industry", "in", ("Technology", "Software")), 10),
        FitRule("finance", Condition("industry", "eq", "Finance"), 6),
        FitRule("exec", Condition("title", "contains", "chief"), 12),
        FitRule("vp", Condition("title", "starts_with", "VP"), 9),
        FitRule("student", Condition("title", "eq", "Student"), -20),
        FitRule("us", Condition("address.country", "eq", "US"), 5),
        FitRule("visits", Condition("custom.visits", "gte", 5), 7),
        FitRule("budget", Condition("custom.budget", "is_not_blank"), 6),
        FitRule("timeline", Condition("custom.timeline", "in", ("Q1", "Q2")), 4),
        FitRule("vip", Condition("tags", "contains", "vip"), 8),
        FitRule("no email", Condition("email", "is_blank"), -8),
        FitRule("rated hot", Condition("rating", "eq", "Hot"), 10),
        FitRule("opted out", Condition("email_opt_out", "eq", value=True), -15),
        FitRule(
            "web and big",
            All([Condition("source", "eq", "Web"), Condition("employees", "gte", 200)]),
            5,
        ),
        FitRule("not competitor", Not(Condition("company", "contains", "rival")), 2),
    ],
    engagement=[
        EngagementRule("opens", "email_opened", 2, cap=10, decay=Decay.linear(90)),
        EngagementRule(
            "pricing",
            "page_view",
            5,
            criterion=Condition("properties.url", "contains", "/pricing"),
            window=TimeWindow(7, 10),
            group="web",
        ),
        EngagementRule("pages", "page_view", 1, decay=Decay.half_life(30), group="web"),
        EngagementRule("forms", "form_submitted", 15, decay=Decay.last(60)),
        EngagementRule("unsubscribed", "unsubscribed", -30),
    ],
    groups=[ScoreGroup("web", cap=25)],
    total_cap=100,
)

SOURCES = ["Web", "Partner Referral", "Cold Call", "Trade Show", None]
INDUSTRIES = ["Technology", "Software", "Finance", "Retail", None]
TITLES = ["Chief Executive Officer", "VP Sales", "Student", "Engineer", "Chief of Staff", None]


def by_hand(lead: Lead) -> float:
    """The same fit points, written out for these fields and this data's spelling."""
    points = 0
    source, employees, industry, title = lead.source, lead.employees, lead.industry, lead.title
    custom = lead.custom
    if source in {"Web", "Partner Referral"}:
        points += 10
    if source == "Cold Call":
        points -= 5
    if employees is not None:
        if employees >= 500:
            points += 15
        if 50 <= employees <= 499:
            points += 8
        if employees < 10:
            points -= 10
    if industry in {"Technology", "Software"}:
        points += 10
    if industry == "Finance":
        points += 6
    if title is not None:
        if "chief" in title.casefold():
            points += 12
        if title.startswith("VP"):
            points += 9
        if title == "Student":
            points -= 20
    if lead.address is not None and lead.address.country == "US":
        points += 5
    visits = custom.get("visits")
    if visits is not None and visits >= 5:
        points += 7
    if custom.get("budget") is not None:
        points += 6
    if custom.get("timeline") in ("Q1", "Q2"):
        points += 4
    if "vip" in lead.tags:
        points += 8
    if lead.email is None:
        points -= 8
    if lead.rating == "Hot":
        points += 10
    if lead.email_opt_out:
        points -= 15
    if source == "Web" and employees is not None and employees >= 200:
        points += 5
    if "rival" not in lead.company.casefold():  # type: ignore[union-attr]
        points += 2
    return float(min(100, max(0, points)))


def make_leads(n: int, seed: int = 11) -> list[Lead]:
    rng = random.Random(seed)
    countries = [Address(country="US"), Address(country="GB"), None]
    leads = []
    for i in range(n):
        custom: dict[str, object] = {}
        if rng.random() < 0.6:
            custom["visits"] = rng.randrange(12)
        if rng.random() < 0.3:
            custom["budget"] = rng.randrange(1000, 90000)
        if rng.random() < 0.4:
            custom["timeline"] = rng.choice(["Q1", "Q2", "Q3", "later"])
        leads.append(
            Lead(
                id=f"L{i:07d}",
                last_name="Ng",
                company=rng.choice(["Acme", "Rival Corp", "Globex", "Initech"]),
                source=rng.choice(SOURCES),
                employees=rng.choice([None, 5, 80, 250, 900, 20000]),
                industry=rng.choice(INDUSTRIES),
                title=rng.choice(TITLES),
                address=rng.choice(countries),
                tags=rng.choice([frozenset(), frozenset({"vip"}), frozenset({"event"})]),
                rating=rng.choice(["Hot", "Warm", None]),
                email_opt_out=rng.random() < 0.05,
                custom=custom,  # type: ignore[arg-type]
            )
        )
    return leads


def make_activities(leads: list[Lead], per_lead: int, seed: int = 12) -> list[Activity]:
    rng = random.Random(seed)
    kinds = ["email_opened", "page_view", "page_view", "form_submitted", "unsubscribed", "call"]
    urls = ["/pricing", "/blog/x", "/docs", "/pricing/enterprise"]
    out = []
    for lead in leads:
        for k in range(per_lead):
            kind = rng.choice(kinds)
            out.append(
                Activity(
                    id=f"{lead.id}-{k}",
                    subject_id=lead.id,
                    kind=kind,
                    occurred_at=NOW - timedelta(hours=rng.randrange(24 * 200)),
                    properties={"url": rng.choice(urls)} if kind == "page_view" else {},
                )
            )
    return out


def timed(run: Callable[[], object], repeat: int) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = run()
        best = min(best, time.perf_counter() - start)
    return best, result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100k leads, one repeat")
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--with-activities", type=int, default=100_000, dest="active")
    args = parser.parse_args()
    n = 100_000 if args.quick else args.leads
    active = min(n, 20_000 if args.quick else args.active)
    repeat = 1 if args.quick else 3
    built = time.perf_counter()
    leads = make_leads(n)
    print(
        f"python {platform.python_version()} on {platform.machine()}: {n:,} leads built in "
        f"{time.perf_counter() - built:.1f} s; {len(MODEL.fit)} fit + "
        f"{len(MODEL.engagement)} engagement rules"
    )
    compiled = MODEL.compile()
    hand_s, hand = timed(lambda: [by_hand(lead) for lead in leads], repeat)
    totals_s, totals = timed(lambda: compiled.totals(leads, now=NOW), repeat)
    assert totals == hand, "compiled totals differ from the if-chain"  # noqa: S101
    sample = leads[: max(1, n // 5)]
    explained_s, scores = timed(lambda: [compiled.score(x, now=NOW) for x in sample], repeat)
    assert [s.total for s in scores] == totals[: len(sample)]  # type: ignore[attr-defined]  # noqa: S101
    function_s, _ = timed(lambda: [score(x, MODEL, now=NOW) for x in sample], 1)

    print(f"{'no activities':<44}{'leads/s':>12}{'vs by hand':>12}")
    hand_rate = n / hand_s
    print(f"{'hand-written if-chain (fit points)':<44}{hand_rate:>12,.0f}{1:>11.2f}x")
    for label, count, seconds in (
        ("compiled.totals(leads)", n, totals_s),
        ("compiled.score(lead), explained", len(sample), explained_s),
        ("score(lead, model), explained", len(sample), function_s),
    ):
        rate = count / seconds
        print(f"{label:<44}{rate:>12,.0f}{hand_rate / rate:>11.2f}x")

    subset = leads[:active]
    activities = make_activities(subset, 10)
    by_lead: dict[str, list[Activity]] = {}
    for activity in activities:
        by_lead.setdefault(activity.subject_id, []).append(activity)
    act_totals_s, act_totals = timed(
        lambda: compiled.totals(subset, activities=by_lead, now=NOW), repeat
    )
    act_scores_s, act_scores = timed(
        lambda: [compiled.score(x, activities=by_lead[x.id], now=NOW) for x in subset], repeat
    )
    assert [s.total for s in act_scores] == act_totals  # type: ignore[attr-defined]  # noqa: S101
    print(f"{'with 10 activities each (' + format(active, ',') + ' leads)':<44}{'leads/s':>12}")
    print(f"{'compiled.totals(leads, activities=...)':<44}{active / act_totals_s:>12,.0f}")
    print(f"{'compiled.score(lead, activities=...)':<44}{active / act_scores_s:>12,.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
