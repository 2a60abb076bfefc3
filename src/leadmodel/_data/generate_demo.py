"""Generate the demo data shipped with leadmodel: ``demo_leads.csv`` and ``demo_activities.csv``.

Run from the repository root to regenerate them (the output is committed):

    python src/leadmodel/_data/generate_demo.py

About 2,000 realistic web-form and list leads, seeded so the files never change: people at
companies, one in eight submitted twice (a different email case, a nickname, a missing
phone), budgets, needs and timelines for some, and page views, email opens, form
submissions and demo requests as activities.
"""

from __future__ import annotations

import csv
import random
from datetime import date, timedelta
from pathlib import Path

FIRST = [
    ("Robert", "Bob"), ("William", "Bill"), ("Elizabeth", "Liz"), ("Margaret", "Maggie"),
    ("Jonathan", "Jon"), ("Katherine", "Kate"), ("Michael", "Mike"), ("Alexandra", "Alex"),
    ("Daniel", "Dan"), ("Susan", "Sue"), ("Thomas", "Tom"), ("Jennifer", "Jen"),
    ("Ana", "Ana"), ("Wei", "Wei"), ("Priya", "Priya"), ("Olumide", "Olu"), ("Søren", "Søren"),
    ("José", "Pepe"), ("Chloé", "Chloé"), ("Hiroshi", "Hiro"), ("Fatima", "Fatima"),
    ("Giovanni", "Gianni"), ("Ingrid", "Inga"), ("Kwame", "Kwame"), ("Lucía", "Lucy"),
    ("Mateusz", "Mateusz"), ("Nadia", "Nadia"), ("Oscar", "Oscar"), ("Rajesh", "Raj"),
    ("Sven", "Sven"), ("Yuki", "Yuki"), ("Zeynep", "Zeynep"), ("Benjamin", "Ben"),
    ("Charlotte", "Lottie"), ("Frederick", "Fred"), ("Henrietta", "Hattie"), ("Ibrahim", "Ibo"),
    ("Juliana", "Jules"), ("Leopold", "Leo"), ("Theodora", "Thea"),
]  # fmt: skip
LAST = [
    "Smith", "Johnson", "Nguyen", "García", "Müller", "Rossi", "Kowalski", "Okafor", "Tanaka",
    "Patel", "Dubois", "Silva", "Kim", "O'Brien", "Andersen", "Novak", "Ivanova", "Haddad",
    "Abernathy", "Bergstrom", "Castellano", "Delacroix", "Eriksen", "Fitzgerald", "Gonçalves",
    "Hoffmann", "Iwasaki", "Jovanovic", "Kaczmarek", "Lindqvist", "Mbeki", "Nakamura",
    "Oyelaran", "Petrova", "Quintero", "Rasmussen", "Szabo", "Thorvaldsen", "Uchenna",
    "Vasquez", "Wojcik", "Xenakis", "Yilmaz", "Zimmermann", "Achterberg", "Bianchi",
    "Chakraborty", "Dimitriou", "Esposito", "Fernandes", "Grünewald", "Hakimi", "Illescas",
    "Jankowski", "Karlsson", "Lombardi", "Moreau", "Nieminen", "Ortega", "Pacheco",
]  # fmt: skip
COMPANIES = [
    "Acme", "Globex", "Initech", "Umbrella Health", "Stark Logistics", "Wayne Foods",
    "Tyrell Analytics", "Cyberdyne Robotics", "Soylent Farms", "Hooli", "Vandelay Imports",
    "Wonka Retail", "Nakatomi Trading", "Oscorp Labs", "Pied Piper", "Massive Dynamic",
]  # fmt: skip
SUFFIXES = ["Inc.", "Ltd", "GmbH", "LLC", "", "S.A."]
TITLES = [
    "CEO", "Chief Technology Officer", "VP Sales", "Head of Marketing", "Director of IT",
    "Engineer", "Analyst", "Student", "Office Manager", "Consultant",
]  # fmt: skip
SOURCES = ["Web", "Web", "Web", "Partner Referral", "Trade Show", "Cold Call", "Webinar"]
INDUSTRIES = ["Technology", "Finance", "Healthcare", "Retail", "Manufacturing", "Education"]
COUNTRIES = [
    ("US", "+1 415 555 {:04d}"),
    ("GB", "+44 20 7946 {:04d}"),
    ("DE", "+49 30 901820{:02d}"),
]


def _phone(country: int, n: int) -> str:
    return COUNTRIES[country][1].format(n % 10000)


DEMO_DAY = date(2026, 1, 15)  # the demo's "today" (``leadmodel demo``)


def _created(days_ago: int) -> str:
    return (DEMO_DAY - timedelta(days=days_ago)).isoformat()


def generate(directory: Path, *, people: int = 1800, seed: int = 2026) -> tuple[int, int]:
    """Write the two CSV files into *directory*; return how many leads and activities."""
    rng = random.Random(seed)  # noqa: S311 - seeded sample data, not a secret
    # Creation dates draw from their own generator, so adding them left every other value as
    # it was: the half-year before the demo's day, busier in recent months.
    dates = random.Random(seed + 1)  # noqa: S311
    leads: list[dict[str, str]] = []
    activities: list[dict[str, str]] = []
    # Every person has their own name: namesakes would be duplicates by any name rule.
    names = rng.sample([(f, n, last) for f, n in FIRST for last in LAST], people)
    for person, (first, nick, last) in enumerate(names):
        company = rng.choice(COMPANIES)
        domain = company.lower().replace(" ", "") + ".example"
        country = rng.randrange(len(COUNTRIES))
        row = {
            "first_name": first,
            "last_name": last,
            "email": f"{first.lower()}.{last.lower()}{person}@{domain}".replace("'", ""),
            "phone": _phone(country, person) if rng.random() < 0.7 else "",
            "company": f"{company} {rng.choice(SUFFIXES)}".strip(),
            "title": rng.choice(TITLES),
            "lead_source": rng.choice(SOURCES),
            "industry": rng.choice(INDUSTRIES),
            "employees": str(rng.choice([5, 20, 80, 250, 1200, 8000])),
            "country": COUNTRIES[country][0],
            "budget": str(rng.choice([5000, 20000, 75000])) if rng.random() < 0.4 else "",
            "need": rng.choice(["forecasting", "lead routing", "data quality"])
            if rng.random() < 0.5
            else "",
            "timeline": rng.choice(["this quarter", "next quarter", "this year"])
            if rng.random() < 0.45
            else "",
            "created_date": _created(int(183 * dates.random() ** 1.4) + 1),
        }
        leads.append(row)
        if rng.random() < 0.125:  # the same person again, as CRM data really holds them
            again = dict(row)
            again["first_name"] = nick
            again["email"] = row["email"].upper()
            again["phone"] = "" if rng.random() < 0.5 else row["phone"]
            first_days_ago = (DEMO_DAY - date.fromisoformat(row["created_date"])).days
            again["created_date"] = _created(max(1, first_days_ago - dates.randrange(30)))
            leads.append(again)
        for n in range(rng.choice([0, 0, 1, 2, 4, 8])):
            kind = rng.choice(
                ["page_view", "page_view", "email_opened", "form_submitted", "demo_requested"]
            )
            activities.append(
                {
                    "email": row["email"],
                    "kind": kind,
                    "days_ago": str(rng.randrange(90)),
                    "url": rng.choice(["/pricing", "/docs", "/blog/lead-scoring"])
                    if kind == "page_view"
                    else "",
                    "n": str(n),
                }
            )
    directory.mkdir(parents=True, exist_ok=True)
    with (directory / "demo_leads.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(leads[0]))
        writer.writeheader()
        writer.writerows(leads)
    with (directory / "demo_activities.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=["email", "kind", "days_ago", "url", "n"])
        writer.writeheader()
        writer.writerows(activities)
    return len(leads), len(activities)


if __name__ == "__main__":
    count, acts = generate(Path(__file__).parent)
    print(f"wrote {count} leads and {acts} activities")  # noqa: T201
