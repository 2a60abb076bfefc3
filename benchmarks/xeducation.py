"""The X Education lead-scoring data (``../shared/data/xeducation_leads.csv``) as Outcomes.

Columns that sales filled in after contact leak the outcome and are left out, as the data's
README says: ``Tags``, ``Lead Quality``, ``Lead Profile``, the ``Asymmetrique …`` scores and
``Last Notable Activity``. ``Select`` means the form field was left blank.
Without the file, :func:`synthetic` generates seeded leads with a known signal instead.
"""

from __future__ import annotations

import csv
import random
from decimal import Decimal, InvalidOperation
from pathlib import Path

from leadmodel import Address, Lead, Outcome

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "xeducation_leads.csv"

TEXT = {
    "Lead Origin": "origin",
    "Last Activity": "last_activity",
    "Specialization": "specialization",
    "How did you hear about X Education": "heard_from",
    "What is your current occupation": "occupation",
    "What matters most to you in choosing a course": "matters",
}
FLAGS = {
    "Search": "search",
    "Newspaper Article": "newspaper_article",
    "X Education Forums": "forums",
    "Newspaper": "newspaper",
    "Digital Advertisement": "digital_ad",
    "Through Recommendations": "recommended",
    "A free copy of Mastering The Interview": "free_copy",
}
FEATURES = [
    "source",
    "email_opt_out",
    "do_not_call",
    "address.country",
    "address.city",
    "custom.visits",
    "custom.time_spent",
    "custom.page_views",
    *(f"custom.{name}" for name in TEXT.values()),
    *(f"custom.{name}" for name in FLAGS.values()),
]


def _blank(text: str) -> str | None:
    text = text.strip()
    return None if text in ("", "Select") else text


def _number(text: str) -> Decimal | None:
    try:
        return Decimal(text) if text.strip() else None
    except InvalidOperation:
        return None


def _outcome(row: dict[str, str], lead_id: str) -> Outcome:
    custom: dict[str, object] = {
        name: _blank(row[column]) for column, name in TEXT.items() if _blank(row[column])
    }
    custom |= {name: row[column] == "Yes" for column, name in FLAGS.items()}
    visits = _number(row["TotalVisits"])
    views = _number(row["Page Views Per Visit"])
    if visits is not None:
        custom["visits"] = int(visits)
    custom["time_spent"] = int(row["Total Time Spent on Website"] or 0)
    if views is not None:
        custom["page_views"] = views.quantize(Decimal("0.01"))
    country, city = _blank(row["Country"]), _blank(row["City"])
    lead = Lead(
        id=lead_id,
        last_name="Lead",
        company="X Education prospect",
        source=(_blank(row["Lead Source"]) or "")[:40] or None,
        email_opt_out=row["Do Not Email"] == "Yes",
        do_not_call=row["Do Not Call"] == "Yes",
        address=Address(country=country, city=city) if country or city else None,
        custom=custom,  # type: ignore[arg-type]
    )
    return Outcome(lead, row["Converted"] == "1")


def load(path: Path = DATA) -> list[Outcome]:
    """Every lead of the file, in file order."""
    with path.open(newline="", encoding="utf-8") as handle:
        return [_outcome(row, f"X{i:05d}") for i, row in enumerate(csv.DictReader(handle))]


def synthetic(n: int, seed: int = 3) -> list[Outcome]:
    """*n* seeded leads whose conversion depends on source, visits and occupation."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        source = rng.choice(["Google", "Direct Traffic", "Olark Chat", "Reference", "Referral"])
        occupation = rng.choice(["Unemployed", "Working Professional", "Student", None])
        visits = rng.randrange(20)
        logit = -1.0 + {"Reference": 2.0, "Olark Chat": -0.8}.get(source, 0.0)
        logit += 1.5 * (occupation == "Working Professional") + 0.08 * visits
        won = rng.random() < 1 / (1 + 2.718281828**-logit)
        custom: dict[str, object] = {"visits": visits}
        if occupation:
            custom["occupation"] = occupation
        lead = Lead(
            id=f"S{i:07d}",
            last_name="Lead",
            company="Prospect",
            source=source,
            custom=custom,  # type: ignore[arg-type]
        )
        out.append(Outcome(lead, won))
    return out
