"""A seeded generator of realistic CRM leads with injected duplicates and hard negatives.

``generate(n, seed=...)`` returns ``(leads, truth)``: *leads* are :class:`~leadmodel.Lead`
values and *truth* maps each lead id to the id of the person it really is, so pairs with the
same truth are true duplicates.

Duplicates are what CRM data really holds: nicknames (Bob for Robert), one-letter typos in
the last name, email case, phone formats, company legal suffixes (Inc, Corp, none), swapped
first and last names, and missing fields. Hard negatives are people who must stay apart:
colleagues at the same company, and common names at different companies.

``mode="hard"`` adds harder negatives (issue 16): 10% of people get a colleague at the same
company with the same title and a different name, and 5% of companies route all their leads
through one switchboard phone (their blocks hold 50 to 2,000 leads). The default mode
generates exactly what it always did, so earlier figures stay comparable.
"""

from __future__ import annotations

import math
import random
import string
from collections.abc import Iterator

from leadmodel import EmailAddress, Lead, PhoneNumber

FIRST_NAMES = [
    ("Robert", ["Bob", "Rob", "Bobby"]),
    ("William", ["Bill", "Will", "Billy"]),
    ("Elizabeth", ["Liz", "Beth", "Betty"]),
    ("Margaret", ["Peggy", "Maggie", "Meg"]),
    ("Jonathan", ["Jon"]),
    ("Katherine", ["Kate", "Kathy"]),
    ("Michael", ["Mike"]),
    ("Richard", ["Rick", "Dick"]),
    ("James", ["Jim", "Jimmy"]),
    ("Jennifer", ["Jen", "Jenny"]),
    ("Thomas", ["Tom"]),
    ("Christopher", ["Chris"]),
    ("Alexander", ["Alex"]),
    ("Samuel", ["Sam"]),
    ("Daniel", ["Dan", "Danny"]),
    ("Patricia", ["Pat", "Trish"]),
    ("Anthony", ["Tony"]),
    ("Rebecca", ["Becky"]),
    ("Nicholas", ["Nick"]),
    ("Victoria", ["Vicky"]),
] + [(name, []) for name in (
    "Aarav", "Priya", "Rajesh", "Mei", "Wei", "Yuki", "Hiroshi", "Olga", "Ivan", "Fatima",
    "Omar", "Lucía", "Mateo", "Sofía", "Chloé", "Lukas", "Anna", "Sven", "Ingrid", "Zoë",
    "Nkechi", "Kwame", "Ana", "João", "Marta", "Paolo", "Giulia", "Emre", "Elif", "Noa",
)]  # fmt: skip
LAST_NAMES = [
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Martinez",
    "Lopez", "Wilson", "Anderson", "Taylor", "Thomas", "Moore", "Jackson", "Martin", "Lee",
    "Thompson", "White", "Harris", "Clark", "Lewis", "Robinson", "Walker", "Young", "Allen",
    "King", "Wright", "Scott", "Nguyen", "Hill", "Flores", "Green", "Adams", "Nelson", "Baker",
    "Hall", "Rivera", "Campbell", "Mitchell", "Carter", "Roberts", "Müller", "Schmidt",
    "Schneider", "Fischer", "Weber", "Dubois", "Lefèvre", "Moreau", "Rossi", "Russo", "Ferrari",
    "Kowalski", "Nowak", "Ivanov", "Petrov", "Tanaka", "Suzuki", "Watanabe", "Kim", "Park",
    "Chen", "Wang", "Singh", "Kumar", "Patel", "Sharma", "Okafor", "Mensah", "Silva", "Santos",
    "Pereira", "Andersson", "Johansson", "Nielsen", "Hansen", "Novak", "Horvat", "Yilmaz",
    "Kaya", "Cohen", "Levi", "O'Brien", "O'Connor", "MacDonald", "Fernández", "González",
]  # fmt: skip
COMPANY_WORDS = [
    "Acme", "Globex", "Initech", "Umbrella", "Stark", "Wayne", "Wonka", "Tyrell", "Cyberdyne",
    "Soylent", "Hooli", "Vandelay", "Massive", "Dynamic", "Quantum", "Blue", "Red", "Green",
    "Silver", "Golden", "North", "South", "Pacific", "Atlantic", "Summit", "Pioneer", "Apex",
    "Vertex", "Nimbus", "Orion", "Helix", "Fusion", "Zenith", "Nova", "Stellar", "Crimson",
]  # fmt: skip
PLACES = [
    "Boston", "Austin", "Denver", "Lyon", "Berlin", "Osaka", "Lagos", "Pune", "Quebec", "Oslo",
    "Porto", "Turin", "Leeds", "Perth", "Cusco", "Hanoi", "Accra", "Seville", "Bergen", "Gdansk",
    "",
]  # fmt: skip
COMPANY_NOUNS = [
    "Systems", "Industries", "Labs", "Logistics", "Analytics", "Foods", "Motors", "Energy",
    "Capital", "Software", "Networks", "Robotics", "Health", "Media", "Textiles", "Partners",
]  # fmt: skip
SUFFIXES = ["Inc.", "Inc", "Corp.", "Corporation", "LLC", "Ltd", "GmbH", "S.A.", "SARL", "B.V.", ""]
FREE_MAIL = ["gmail.com", "yahoo.com", "hotmail.com", "outlook.com"]
AREA_CODES = [
    "201", "202", "203", "205", "206", "207", "208", "210", "212", "213", "214", "215", "216",
    "217", "218", "219", "224", "225", "228", "229", "231", "234", "239", "240", "248", "251",
    "252", "253", "254", "256", "260", "262", "267", "269", "270", "276", "281", "301", "302",
    "303", "304", "305", "307", "308", "309", "310", "312", "313", "314", "315", "316", "317",
    "318", "319", "320", "321", "323", "330", "334", "336", "337", "339", "347", "351", "352",
    "360", "361", "385", "386", "401", "402", "404", "405", "406", "407", "408", "409", "410",
    "412", "413", "414", "415", "417", "419", "423", "424", "425", "430", "432", "434", "435",
    "440", "443", "469", "478", "479", "480", "484", "501", "502", "503", "504", "505", "507",
    "508", "509", "510", "512", "513", "515", "516", "517", "518", "520", "530", "540", "541",
    "551", "559", "561", "562", "563", "567", "570", "571", "573", "574", "575", "580", "585",
    "586", "601", "602", "603", "605", "606", "607", "608", "609", "610", "612", "614", "615",
    "616", "617", "618", "619", "620", "623", "626", "630", "631", "636", "641", "646", "650",
    "651", "657", "660", "661", "662", "678", "682", "701", "702", "703", "704", "706", "707",
    "708", "712", "713", "714", "715", "716", "717", "718", "719", "720", "724", "727", "731",
    "732", "734", "740", "754", "757", "760", "763", "765", "770", "772", "773", "774", "775",
]  # fmt: skip


def _typo(rng: random.Random, word: str) -> str:
    if len(word) < 4:
        return word
    i = rng.randrange(1, len(word) - 1)
    kind = rng.choice(["swap", "drop", "double", "replace"])
    if kind == "swap":
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if kind == "drop":
        return word[:i] + word[i + 1 :]
    if kind == "double":
        return word[:i] + word[i] + word[i:]
    return word[:i] + rng.choice(string.ascii_lowercase) + word[i + 1 :]


def _slug(text: str) -> str:
    from leadmodel.rules.normalize import normalize_person_name

    return (normalize_person_name(text) or "x").replace(" ", "")


class _Person:
    def __init__(self, rng: random.Random, companies: list[tuple[str, str]]) -> None:
        self.first, self.nicknames = rng.choice(FIRST_NAMES)
        self.last = rng.choice(LAST_NAMES)
        self.company_base, self.domain = rng.choice(companies)
        self.suffix = rng.choice(SUFFIXES)
        self.title = rng.choice(["CEO", "CTO", "VP Sales", "Head of Marketing", "Engineer", None])
        local = f"{_slug(self.first)}.{_slug(self.last)}{rng.randrange(1000)}"
        domain = rng.choice(FREE_MAIL) if rng.random() < 0.3 else self.domain
        self.email = f"{local}@{domain}"
        self.phone = (
            f"+1 {rng.choice(AREA_CODES)} {rng.randrange(200, 999)} {rng.randrange(10000):04d}"
        )


def _lead(  # noqa: PLR0917 - one argument per generated field
    lead_id: str,
    first: str | None,
    last: str,
    company: str,
    email: str | None,
    phone: str | None,
    title: str | None,
) -> Lead:
    return Lead(
        id=lead_id,
        first_name=first,
        last_name=last,
        company=company,
        title=title,
        email=EmailAddress.parse(email) if email else None,
        phone=PhoneNumber.parse(phone) if phone else None,
    )


def _duplicate_of(rng: random.Random, person: _Person, lead_id: str) -> Lead:
    first: str | None = person.first
    last = person.last
    company = f"{person.company_base} {person.suffix}".strip()
    email: str | None = person.email
    phone: str | None = person.phone
    changes = rng.sample(
        ["nickname", "typo", "email_case", "phone_format", "suffix", "swap", "missing"],
        k=rng.randint(1, 3),
    )
    if "nickname" in changes and person.nicknames:
        first = rng.choice(person.nicknames)
    if "typo" in changes:
        last = _typo(rng, last)
    if "email_case" in changes and email:
        email = email.upper() if rng.random() < 0.5 else email.title()
    if "phone_format" in changes and phone:
        digits = phone.replace(" ", "")[2:]
        phone = f"({digits[:3]}) {digits[3:6]}-{digits[6:]}"
    if "suffix" in changes:
        company = f"{person.company_base} {rng.choice(SUFFIXES)}".strip()
    if "swap" in changes and first:
        first, last = last, first
    if "missing" in changes:
        # Drop one identifying field but keep at least one way to link the records.
        if rng.random() < 0.5:
            email = None
        else:
            phone = None
    return _lead(lead_id, first, last, company, email, phone, person.title)


def _switchboards(
    extra: random.Random, companies: list[tuple[str, str]], n: int
) -> tuple[dict[str, str], list[float]]:
    """The hard mode's switchboard phones by company, and each company's weight.

    A separate generator (*extra*) keeps the default stream untouched. 5% of companies get
    a switchboard, and people are steered to them so their blocks hold 50 to 2,000 leads:
    log-uniform sizes, scaled down when they would take more than a quarter of the leads
    (a floor weight of 120 keeps blocks at about 50 or more); other companies weigh 40.
    """
    chosen = extra.sample(companies, max(1, len(companies) // 20))
    switchboards = {
        name: f"+1 {extra.choice(AREA_CODES)} {extra.randrange(200, 999)} "
        f"{extra.randrange(10000):04d}"
        for name, _ in chosen
    }
    sizes = {name: math.exp(extra.uniform(math.log(50), math.log(2_000))) for name, _ in chosen}
    scale = min(1.0, 0.25 * n / sum(sizes.values()))
    weights = [max(120.0, sizes[name] * scale) if name in sizes else 40.0 for name, _ in companies]
    return switchboards, weights


def _colleague(
    rng: random.Random,
    person: _Person,
    companies: list[tuple[str, str]],
    switchboards: dict[str, str],
) -> _Person:
    """Another person at *person*'s company with the same title (and switchboard)."""
    colleague = _Person(rng, companies)
    colleague.company_base, colleague.domain = person.company_base, person.domain
    colleague.suffix, colleague.title = person.suffix, person.title
    colleague.email = f"{colleague.email.partition('@')[0]}@{person.domain}"
    if person.company_base in switchboards:
        colleague.phone = switchboards[person.company_base]
    return colleague


def iter_leads(
    n: int, *, seed: int = 7, duplicate_rate: float = 0.25, mode: str = "default"
) -> Iterator[tuple[Lead, str]]:
    """Yield about *n* ``(lead, person_id)`` pairs; ids are ``L0000001``…, in shuffled order.

    *mode* is ``"default"`` or ``"hard"`` (colleagues and switchboard phones, see the module
    docstring).
    """
    if mode not in {"default", "hard"}:
        raise ValueError(f"mode must be 'default' or 'hard', not {mode!r}")
    hard = mode == "hard"
    rng = random.Random(seed)
    companies = [
        (
            f"{rng.choice(COMPANY_WORDS)} {rng.choice(PLACES)} {rng.choice(COMPANY_NOUNS)}".replace(
                "  ", " "
            ),
            "",
        )
        for _ in range(max(50, n // 40))
    ]
    companies = [(name, f"{_slug(name)}.com") for name, _ in companies]
    switchboards: dict[str, str] = {}
    weights: list[float] = []
    extra = random.Random(seed + 1_000_003)
    if hard:
        switchboards, weights = _switchboards(extra, companies, n)
    ids = list(range(1, n + 1))
    rng.shuffle(ids)
    counter = 0

    def next_id() -> str:
        nonlocal counter
        counter += 1
        return f"L{ids[counter - 1]:07d}"

    person_number = 0
    seen: set[tuple[str, str, str]] = set()
    emails: set[str] = set()

    def emit(person: _Person) -> Iterator[tuple[Lead, str]]:
        nonlocal person_number
        person_number += 1
        person_id = f"P{person_number}"
        company = f"{person.company_base} {person.suffix}".strip()
        yield (
            _lead(
                next_id(),
                person.first,
                person.last,
                company,
                person.email,
                person.phone,
                person.title,
            ),
            person_id,
        )
        extra_count = 0
        if rng.random() < duplicate_rate:
            extra_count = 1 if rng.random() < 0.8 else 2
        for _ in range(min(extra_count, n - counter)):
            yield _duplicate_of(rng, person, next_id()), person_id

    def admit(person: _Person) -> bool:
        identity = (person.first, person.last, person.company_base)
        if identity in seen or person.email.lower() in emails:
            # Two people with one name at one company, or sharing a mailbox, are too rare
            # to model: the truth would be unknowable.
            return False
        seen.add(identity)
        emails.add(person.email.lower())
        return True

    while counter < n:
        person = _Person(rng, companies)
        if hard:
            person.company_base, person.domain = extra.choices(companies, weights)[0]
            person.email = f"{person.email.partition('@')[0]}@{person.domain}"
            if person.company_base in switchboards:
                person.phone = switchboards[person.company_base]
        if not admit(person):
            continue
        yield from emit(person)
        if hard and counter < n and extra.random() < 0.1:
            colleague = _colleague(rng, person, companies, switchboards)
            if (colleague.first, colleague.last) != (person.first, person.last) and admit(
                colleague
            ):
                yield from emit(colleague)


def generate(n: int, *, seed: int = 7, mode: str = "default") -> tuple[list[Lead], dict[str, str]]:
    """*n* leads and the true person of each (see the module docstring)."""
    leads: list[Lead] = []
    truth: dict[str, str] = {}
    for lead, person in iter_leads(n, seed=seed, mode=mode):
        leads.append(lead)
        truth[lead.id] = person
    return leads, truth


def true_pairs(truth: dict[str, str]) -> set[tuple[str, str]]:
    """Every pair of ids that are the same person, as sorted tuples."""
    by_person: dict[str, list[str]] = {}
    for record_id, person in truth.items():
        by_person.setdefault(person, []).append(record_id)
    pairs = set()
    for members in by_person.values():
        members.sort()
        for i, a in enumerate(members):
            for b in members[i + 1 :]:
                pairs.add((a, b))
    return pairs
