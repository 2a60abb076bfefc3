"""The ``leadmodel`` command.

``leadmodel import | dedupe | unmerge | score | qualify | convert | show | report | check |
tick | privacy find|export|erase`` work on a database: ``--db`` takes a SQLite path
(default ``./leadmodel.db``) or a ``postgresql://`` URL, opened with
:func:`leadmodel.adapters.open_store`; ``--json`` prints machine-readable output.
``privacy`` reads the privacy key from ``--key-file`` or the ``LEADMODEL_PRIVACY_KEY``
environment variable.

``leadmodel demo`` walks a few sample leads through the library: parse raw input into
values, build and validate leads (showing every error of a bad row at once), check custom
fields against a schema, store them in a unit of work, move them through statuses and the
lifecycle, convert one into an account, contact and opportunity (reporting every value it
did not carry), and serialise them to JSON and back.

Exit codes: 0 success; 1 not found (``show``, ``unmerge``), a group not merged
(``dedupe --merge``), stored records that break the rules (``check``) or an inconsistency
(``demo``); 2 bad input or usage (a missing file, a binary or JSON file to import, a
malformed CSV, a bad JSON rule file); 3 an internal error; 130 interrupted; 141 the output
pipe closed (``| head``): one line on stderr, never a traceback (docs/cli.md).
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
import tempfile
import traceback
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from contextvars import ContextVar
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from enum import Enum
from importlib import resources
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import unquote

from leadmodel import (
    BANT_POLICY,
    DEFAULT_LEAD_PROCESS,
    LEAD_SCHEMA,
    Address,
    Band,
    ConcurrencyError,
    Condition,
    ConvertOptions,
    EmailAddress,
    EngagementRule,
    FieldDef,
    FieldError,
    FieldType,
    FitRule,
    Lead,
    LeadModelError,
    LifecycleStage,
    Money,
    PhoneNumber,
    RecordNotFound,
    ScoringModel,
    ValidationError,
    advance,
    from_json,
    qualify,
    to_json,
    transition,
    update,
)
from leadmodel import (
    __doc__ as _package_doc,
)
from leadmodel._commands import COMMANDS, RULES, CommandError, run_demo_pipeline
from leadmodel._demo_journey import run_journey
from leadmodel.adapters import open_store
from leadmodel.adapters._targets import masked, redacted, url_scheme
from leadmodel.adapters.memory import SequentialIds
from leadmodel.ports import Store
from leadmodel.services import convert_lead, rescore

__all__ = ["main"]

_VERSION = "0.1.0.dev0"
_DEMO_NOW = datetime(2026, 1, 15, 9, 30, tzinfo=UTC)


def _sample_rows() -> list[dict[str, Any]]:
    text = resources.files("leadmodel").joinpath("_data/sample_leads.json").read_text("utf-8")
    rows: list[dict[str, Any]] = json.loads(text)
    return rows


def _attempt(path: str, parse: Callable[[], Any], errors: list[FieldError]) -> Any:
    try:
        return parse()
    except ValidationError as exc:
        errors.extend(FieldError(path, e.code, e.message) for e in exc.errors)
        return None


def _money(row: Mapping[str, Any]) -> Money | None:
    if row.get("annual_revenue") is None:
        return None
    try:
        amount = Decimal(row["annual_revenue"])
    except InvalidOperation:
        raise ValidationError(
            "money",
            [FieldError("", "invalid", f"{row['annual_revenue']!r} is not a number")],
        ) from None
    return Money(amount, row.get("currency") or "USD")


def build_lead(row: Mapping[str, Any], lead_id: str, now: datetime) -> Lead:
    """Parse one raw sample row into a lead; raise one ValidationError with every problem."""
    errors: list[FieldError] = []
    region = row.get("region") or "US"
    email = (
        _attempt("email", lambda: EmailAddress.parse(row["email"]), errors)
        if row.get("email")
        else None
    )
    phone = (
        _attempt("phone", lambda: PhoneNumber.parse(row["phone"], region=region), errors)
        if row.get("phone")
        else None
    )
    revenue = _attempt("annual_revenue", lambda: _money(row), errors)
    address = (
        Address(city=row.get("city"), country=row.get("country"))
        if row.get("city") or row.get("country")
        else None
    )
    try:
        lead = Lead(
            id=lead_id,
            first_name=row.get("first_name") or None,
            last_name=row.get("last_name", ""),
            company=row.get("company"),
            is_person=bool(row.get("is_person", False)),
            email=email,
            phone=phone,
            industry=row.get("industry"),
            annual_revenue=revenue,
            address=address,
            source=row.get("source"),
            custom={"visits": row.get("visits")},
            created_at=now,
            updated_at=now,
        )
    except ValidationError as exc:
        errors.extend(exc.errors)
        raise ValidationError("Lead", errors) from None
    if errors:
        raise ValidationError("Lead", errors)
    return lead


def _plain(value: object) -> str:
    """*value* as a reader writes it: ``80`` not ``Decimal('80')``, dates in ISO form.

    >>> _plain(Decimal("80")), _plain(Decimal("1.50")), _plain(datetime(2026, 1, 5, tzinfo=UTC))
    ('80', '1.50', '2026-01-05T00:00:00+00:00')
    >>> _plain(frozenset({"b", "a"})), _plain(None), _plain(True)
    ('a, b', '(blank)', 'yes')
    """
    if value is None:
        return "(blank)"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, frozenset | set):
        return ", ".join(sorted(_plain(item) for item in value))
    if isinstance(value, Enum):
        return str(value.value)
    return str(value)


def _table(rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        for row in rows
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(line.rstrip() for line in lines)


def _validate_samples(say: Callable[[str], None]) -> tuple[list[Lead], list[dict[str, Any]]]:
    ids = SequentialIds()
    schema = LEAD_SCHEMA.with_custom(FieldDef("visits", FieldType.NUMBER, length=6, decimals=0))
    say("1. Parse and validate (values are parsed once; every bad field is reported at once)")
    built: list[Lead] = []
    rejected: list[dict[str, Any]] = []
    for row in _sample_rows():
        try:
            lead = build_lead(row, ids("lead"), _DEMO_NOW)
            schema.validate(lead)
        except ValidationError as exc:
            rejected.append({"row": row, "errors": [f"{e.path}: {e.message}" for e in exc.errors]})
            say(f"   rejected {row.get('first_name')!r}: {len(exc.errors)} problems")
            for e in exc.errors:
                say(f"     - {e.path} [{e.code}] {e.message}")
            continue
        built.append(lead)
    say(f"   {len(built)} leads built, {len(rejected)} rejected\n")
    return built, rejected


def _show(leads: Sequence[Lead], say: Callable[[str], None]) -> None:
    say("2. Show the leads")
    header = ["id", "name", "company", "email", "phone", "revenue"]
    rows = [
        [
            lead.id,
            lead.name,
            lead.company or "(person)",
            str(lead.email or ""),
            lead.phone.formatted() if lead.phone else "",
            str(lead.annual_revenue or ""),
        ]
        for lead in leads
    ]
    say(_table([header, *rows]) + "\n")


def _store_and_work(store: Store, leads: Sequence[Lead], say: Callable[[str], None]) -> list[Lead]:
    say("3. Store them in a unit of work, then work them")
    with store.unit_of_work() as uow:
        for lead in leads:
            uow.leads.add(lead)
        uow.commit()
    with store.unit_of_work() as uow:
        first = uow.leads.get(leads[0].id)
        if first is None:  # pragma: no cover - stored just above
            raise RuntimeError("the demo lost a lead")
        worked = transition(first, "Working - Contacted", process=DEFAULT_LEAD_PROCESS)
        worked = advance(worked, LifecycleStage.MARKETING_QUALIFIED)
        worked = update(worked, updated_at=_DEMO_NOW + timedelta(days=2), rating="Hot")
        uow.leads.update(worked)
        uow.commit()
    stage = worked.lifecycle_stage.value if worked.lifecycle_stage else "-"
    say(f"   {worked.id}: status {worked.status!r}, stage {stage}, rating {worked.rating}")
    with store.unit_of_work() as uow:
        stored = list(uow.leads)
        found = [lead.id for lead in uow.leads.find_by_keys([f"email:{leads[1].email}"])]
    say(f"   {len(stored)} leads stored; find_by_keys(email) -> {found}\n")
    return stored


_DEMO_MODEL = ScoringModel(
    fit=[
        FitRule("inbound source", Condition("source", "in", ("Web", "Partner Referral")), 20),
        FitRule("technology", Condition("industry", "eq", "Technology"), 15),
        FitRule("engaged visitor", Condition("custom.visits", "gte", 5), 25),
        FitRule("big revenue", Condition("annual_revenue", "gte", 1_000_000), 20),
        FitRule("no company", Condition("is_person", "eq", value=True), -10),
    ],
    engagement=[EngagementRule("calls", "call", 10, cap=20)],
    bands=[Band("Hot", 70), Band("Warm", 40), Band("Cold")],
    name="demo",
)


def _score(store: Store, say: Callable[[str], None]) -> bool:
    say("4. Score every stored lead (fit rules, caps, bands) and qualify the best (BANT)")
    report = rescore(
        store.unit_of_work(),
        _DEMO_MODEL,
        now=_DEMO_NOW + timedelta(days=2),
        write_rating=True,
    )
    with store.unit_of_work() as uow:
        leads = list(uow.leads)
    scorer = _DEMO_MODEL.compile()
    totals = scorer.totals(leads, now=_DEMO_NOW + timedelta(days=2))
    leads = [lead for _, lead in sorted(zip(totals, leads, strict=True), key=lambda p: -p[0])]
    for lead in leads:
        result = scorer.score(lead, now=_DEMO_NOW + timedelta(days=2))
        why = ", ".join(f"{c.rule} {c.points:+g}" for c in result.contributions) or "no rule"
        say(f"   {lead.id}: {result.total:g} ({result.rating}, grade {result.grade}) — {why}")
    best = leads[0]
    decision = qualify(best, BANT_POLICY)
    say(f"   BANT for {best.id}: {decision.decision}; " + "; ".join(decision.reasons[:4]))
    say(f"   {report.changed} scores saved, {len(report.events)} ScoreChanged events\n")
    return report.scored == len(leads)


def _convert(store: Store, lead_id: str, say: Callable[[str], None]) -> bool:
    say(f"5. Convert {lead_id} into an account, a contact and an opportunity (one unit of work)")
    outcome = convert_lead(
        store.unit_of_work(),
        lead_id,
        ConvertOptions("Closed - Converted", owner_id="user-1"),
        ids=SequentialIds(),
        now=_DEMO_NOW + timedelta(days=3),
    )
    result = outcome.result
    for record in result.records:
        say(f"   created {type(record).__name__.lower()} {record.id}: {record.name}")
    written = sum(1 for change in result.changes if change.target != "lead")
    say(f"   {written} values written; the lead is now {result.lead.status!r} and read-only")
    for value in result.unmapped:
        say(f"   not carried (no mapping entry), reported: {value.field} = {_plain(value.value)}")
    with store.unit_of_work() as uow:
        saved = uow.contacts.get(result.contact.id) == result.contact
        converted = uow.leads.get(lead_id)
    say("")
    return saved and converted is not None and converted.is_converted


def run_demo(*, as_json: bool = False, database: str | None = None) -> int:
    """Run the demo walk-through on a SQLite database; return the exit code.

    The database is a fresh file: *database* (which must not exist yet) or one in a
    temporary directory, removed afterwards.
    """
    if database is not None and url_scheme(database) is not None:
        print(
            f"leadmodel demo: the demo runs on SQLite: give a new file name, "
            f"not {masked(database)}",
            file=sys.stderr,
        )
        return 2
    local = None if database is None else _sqlite_file(database)
    if database is not None and local is not None and (_exists(local) or not database):
        # A file: URI names its file too: the demo never writes into an existing database.
        print(
            f"leadmodel demo: {_printable(database)} exists; give a new file name", file=sys.stderr
        )
        return 2
    with tempfile.TemporaryDirectory() as directory:
        path = database if database is not None else str(Path(directory) / "demo.db")
        try:
            store = open_store(path)
        except (sqlite3.Error, OSError, LeadModelError) as exc:
            print(f"leadmodel demo: cannot open {_printable(_said(exc))}", file=sys.stderr)
            return 2
        with store:
            return _run_demo(store, path, as_json=as_json, keep=database is not None)


def _run_demo(store: Store, path: str, *, as_json: bool, keep: bool) -> int:
    say: Callable[[str], None] = (lambda _: None) if as_json else print
    say(
        "leadmodel demo: five raw sample leads, parsed, validated, stored in SQLite, moved, "
        "scored, converted and serialised\n"
    )
    built, rejected = _validate_samples(say)
    _show(built, say)
    say(f"   (SQLite database: {path if keep else 'a temporary file'})\n")
    stored = _store_and_work(store, built, say)
    scored = _score(store, say)
    converted = _convert(store, stored[0].id, say)
    with store.unit_of_work() as uow:
        stored = list(uow.leads)
    say("6. Serialise to JSON and back")
    round_trips = [from_json(Lead, to_json(lead)) == lead for lead in stored]
    say(f"   {sum(round_trips)}/{len(stored)} leads survive from_json(to_json(lead)) unchanged")
    say("   " + to_json(stored[0])[:160] + " …\n")
    pipeline = run_demo_pipeline(store, say, now=_DEMO_NOW + timedelta(days=4))
    adds_up = (
        sum(pipeline["ratings"].values())
        == pipeline["scored"]
        == sum(pipeline["qualification"].values())
    )
    demo_ok = pipeline["imported"] > 1500 and pipeline["converted"] == 10 and adds_up
    journey = run_journey(say, now=_DEMO_NOW + timedelta(days=5))
    journey_ok = journey["converted"] and journey["customer"] and journey["won"]
    ok = all(round_trips) and converted and scored and demo_ok and journey_ok
    if as_json:
        report = {
            "leads": [json.loads(to_json(lead)) for lead in stored],
            "rejected": rejected,
            "round_trip_ok": all(round_trips),
            "converted_ok": converted,
            "scored_ok": scored,
            "pipeline": pipeline,
            "journey": journey,
        }
        print(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        say("\nDone." if ok else "\nInconsistency found.")
    return 0 if ok else 1


_RULE_NAMES = "{" + ",".join(sorted(RULES)) + "}"
_DB_HELP = (
    "the database: a SQLite path or a postgresql:// URL (postgresql://user@host/dbname; "
    "the postgres extra); default: %(default)s"
)


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors never show a URL's password.

    argparse echoes what it did not understand (``unrecognized arguments: …``,
    ``invalid choice: …``): a URL given where ``--db`` was not expected would be printed
    whole.
    """

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        said = _printable(_hide_passwords(message, _ARGV.get()))
        self.exit(2, f"{self.prog}: error: {said}\n")


_ARGV: ContextVar[Sequence[str]] = ContextVar("leadmodel_cli_argv", default=())
"""The arguments :func:`main` runs with, whose URLs' passwords no message may show."""


def _urls(argv: Sequence[str]) -> list[str]:
    """Every URL in *argv*, alone or as an option's ``--name=value``."""
    return [
        value
        for arg in argv
        for value in (arg, arg.partition("=")[2])
        if value and url_scheme(value) is not None
    ]


def _hide_passwords(text: str, argv: Sequence[str]) -> str:
    """*text* with the password of every URL in *argv* (or in *text* itself) masked."""
    for url in sorted(_urls(argv), key=len, reverse=True):
        text = redacted(text, url)
    return text


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="leadmodel",
        description=(_package_doc or "").splitlines()[0],
        epilog="Exit codes: 0 success; 1 not found or inconsistent; 2 bad input or usage.",
    )
    parser.add_argument("--version", action="version", version=f"leadmodel {_VERSION}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = commands.add_parser("demo", help="walk a few sample leads through the library")
    demo.add_argument("--json", action="store_true", help="print machine-readable JSON")
    demo.add_argument(
        "--db", metavar="PATH", help="keep the demo database in this new file (default: temporary)"
    )

    def command(name: str, text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=text, description=text)
        sub.add_argument("--db", default="leadmodel.db", help=_DB_HELP)
        sub.add_argument("--json", action="store_true", help="print machine-readable JSON")
        return sub

    sub = command("import", "import leads from a CSV file")
    sub.add_argument("file", help="the CSV file (a header row, one lead per row)")
    sub.add_argument("--mapping", help="JSON: column name -> lead field or custom.<name>")
    sub.add_argument("--dedupe", action="store_true", help="skip rows matching a stored lead")
    sub.add_argument(
        "--on-duplicate",
        choices=["skip", "update", "merge", "create"],
        help="what to do with a row matching a stored lead or an earlier row "
        "(default: skip with --dedupe, else create); merges can be undone with unmerge",
    )
    sub.add_argument("--dry-run", action="store_true", help="check every row, save nothing")
    rule_help = (
        "when two leads are the same person: standard (a name and an email, phone, company "
        "or address: Salesforce's rule), exact-email (the same email only) or "
        "exact-email-or-phone (the same email, phone or mobile); default: %(default)s"
    )
    sub.add_argument(
        "--rule", choices=sorted(RULES), default="standard", metavar=_RULE_NAMES, help=rule_help
    )
    sub = command("dedupe", "find duplicate leads, and merge them on ask")
    sub.add_argument(
        "--rule",
        choices=[*sorted(RULES), "exact"],  # "exact": the old name, deprecated
        default="standard",
        metavar=_RULE_NAMES,
        help=rule_help,
    )
    sub.add_argument("--merge", action="store_true", help="merge every group found")
    sub = command("unmerge", "undo a merge made by dedupe --merge (or merge_records)")
    sub.add_argument("merge_id", help="the merge id dedupe --merge printed")
    sub.add_argument(
        "--force", action="store_true", help="restore even if the survivor changed since"
    )
    sub = command("score", "re-score every lead with a scoring model")
    sub.add_argument("--model", required=True, help="the ScoringModel as JSON")
    sub.add_argument("--rating", action="store_true", help="also write the rating band")
    sub = command("qualify", "qualify every open lead with a policy")
    sub.add_argument("--policy", required=True, help="the QualificationPolicy as JSON")
    sub = command("convert", "convert a lead, or every qualified lead")
    sub.add_argument("lead_id", nargs="?", help="the lead to convert")
    sub.add_argument("--qualified", action="store_true", help="convert every qualified lead")
    sub.add_argument("--policy", help="the QualificationPolicy for --qualified")
    sub.add_argument("--no-opportunity", action="store_true", help="create no opportunity")
    sub = command("show", "show one lead and its activities")
    sub.add_argument("lead_id")
    command("report", "the funnel by status and by source")
    command("check", "list stored records that break the domain rules (exit code 1 if any)")
    sub = command("tick", "run the time-based triggers and auto-conversions due now")
    sub.add_argument(
        "--rules", required=True, help='JSON: {"triggers": [...], "auto_convert": [...]}'
    )
    sub.add_argument("--now", help="the time to run at, ISO 8601 with offset (default: now)")
    sub.add_argument(
        "--since",
        help="on a database without trigger state: skip what fell due before this time",
    )
    _privacy_parser(commands)
    return parser


def _privacy_parser(commands: Any) -> None:
    """``leadmodel privacy find|export|erase``."""
    privacy = commands.add_parser(
        "privacy",
        help="find, export or erase one person's data (a data subject's request)",
        description="find, export or erase one person's data (a data subject's request)",
    )
    actions = privacy.add_subparsers(dest="privacy_action", metavar="ACTION", required=True)
    for action, text in (
        ("find", "list every record holding the person's data"),
        ("export", "print the JSON document of everything stored about the person"),
        ("erase", "delete or anonymise the person everywhere, then scrub the file"),
    ):
        sub = actions.add_parser(action, help=text, description=text)
        sub.add_argument("--db", default="leadmodel.db", help=_DB_HELP)
        sub.add_argument("--json", action="store_true", help="print machine-readable JSON")
        sub.add_argument("--email", help="the person's email")
        sub.add_argument("--phone", help="the person's phone")
        sub.add_argument("--name", help="the person's full name (alone, it finds namesakes)")
        sub.add_argument(
            "--key-file",
            help="a file holding the privacy key (default: the LEADMODEL_PRIVACY_KEY "
            "environment variable); requests are logged as keyed hashes",
        )
        if action == "export":
            sub.add_argument(
                "--output",
                help="write the document to this new file (readable by its owner only; "
                "an existing file is never replaced)",
            )
        if action == "erase":
            sub.add_argument("--mode", required=True, choices=["delete", "anonymise"])


def _run_command(args: argparse.Namespace) -> int:
    say: Callable[[str], None] = (lambda _: None) if args.json else print
    target: str = args.db
    shown = masked(target)
    if len(shown) > _SHOWN:  # as the store shows it: cut, so the error stays readable
        shown = shown[:_SHOWN] + "…"

    def error(text: object, prefix: str = "error") -> None:
        """One line on stderr, never a URL's password nor a control character."""
        said = _printable(redacted(str(text), target))
        print(f"leadmodel: {prefix}: {said}", file=sys.stderr)

    def first_line(exc: BaseException) -> str:
        """The error's first line, its passwords masked before it is cut to length."""
        return _first_line(exc, target)

    if not target:
        error("--db is empty: give a SQLite path or a postgresql:// URL")
        return 2
    local = _sqlite_file(target)
    if args.command == "privacy" and local is not None and not _exists(local):
        # A privacy request answered from a new empty file would say "nothing stored".
        error(f"no database at {shown}")
        return 2
    try:
        store = open_store(target)
    except (sqlite3.Error, OSError, LeadModelError) as exc:
        error(f"cannot open {shown}: {_said(exc, target).removeprefix(f'{shown!r}: ')}")
        return 2
    try:
        with store:
            code, result = COMMANDS[args.command](args, store, say)
    except CommandError as exc:
        error(exc)
        return 2
    except RecordNotFound as exc:
        error(exc)
        return 1
    except ConcurrencyError as exc:
        error(f"{first_line(exc)}; run again", "conflict")
        return EXIT_CONFLICT
    except LeadModelError as exc:  # StorageError among them
        error(first_line(exc))
        return 2
    except sqlite3.Error as exc:
        error(f"database {shown}: {exc}")
        return 2
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2, default=str))
    return code


_SHOWN = 400
"""How much of a long ``--db`` an error shows (SQLiteStore's messages cut it so too)."""


def _exists(path: Path) -> bool:
    """Whether *path* exists; a name the file system refuses (too long …) does not."""
    try:
        return path.exists()
    except OSError:
        return False


_UNPRINTABLE = frozenset({"Cc", "Zl", "Zp"})
_BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _printable(text: str) -> str:
    r"""*text* with control characters escaped, so an error stays one harmless line.

    A ``--db`` path may hold a newline or a terminal escape sequence; printed as they are,
    they would split the error line or recolour (retitle, clear) the user's terminal.

    >>> print(_printable("cannot open no\nsuch\x1b[31m.db"))
    cannot open no\nsuch\x1b[31m.db
    """
    if text.isprintable():
        return text
    return "".join(
        ascii(ch)[1:-1] if unicodedata.category(ch) in _UNPRINTABLE or ch in _BIDI else ch
        for ch in text
    )


def _sqlite_file(target: str) -> Path | None:
    """The file a SQLite *target* names (the path of a ``file:`` URI), if any.

    ``None`` for a URL or an in-memory database.

    >>> _sqlite_file("leads.db"), _sqlite_file("file:data/leads.db?mode=rw")
    (PosixPath('leads.db'), PosixPath('data/leads.db'))
    >>> _sqlite_file("file:///srv/crm%20leads.db"), _sqlite_file("file::memory:?cache=shared")
    (PosixPath('/srv/crm leads.db'), None)
    """
    if target == ":memory:" or url_scheme(target) is not None:
        return None
    if target.lower().startswith(("postgres:", "postgresql:")):
        return None  # a URL missing its "//": open_store says so
    if not target.startswith("file:"):
        return Path(target)
    path, _, query = target.removeprefix("file:").partition("?")
    path = path.partition("#")[0]
    if path.startswith("//"):  # file://host/path: SQLite takes "" and "localhost" only
        path = "/" + path[2:].partition("/")[2]
    if path in ("", ":memory:") or "mode=memory" in query.split("&"):
        return None
    return Path(unquote(path))


def _said(exc: BaseException, target: str = "") -> str:
    """What an error says: the message of its one field error, or its first line."""
    if isinstance(exc, ValidationError) and len(exc.errors) == 1:
        message = redacted(exc.errors[0].message, target) if target else exc.errors[0].message
        return message.splitlines()[0][:500] if message else ""
    return _first_line(exc, target)


def _first_line(exc: BaseException, target: str = "") -> str:
    """The first line of an error's message, within 500 characters.

    *target*'s passwords are masked before the line is cut, so that a cut never leaves
    a password's first characters behind.
    """
    text = redacted(str(exc), target) if target else str(exc)
    return text.splitlines()[0][:500] if text else type(exc).__name__


EXIT_PIPE_CLOSED = 141
"""The exit code when the reader of the output went away (``leadmodel report | head -1``)."""
EXIT_INTERRUPTED = 130
"""The exit code after Ctrl-C."""
EXIT_INTERNAL = 3
"""The exit code of a defect in leadmodel itself (reported as one line, please file it)."""
EXIT_CONFLICT = 4
"""The exit code when other writers changed what the command read, or held the database
past its timeout: nothing of the conflicting part was written; run the command again."""


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``leadmodel`` console script; returns the exit code.

    Errors are one line on stderr, never a traceback (set ``LEADMODEL_DEBUG=1`` to see the
    traceback of an internal error: the error is raised, or printed with every password
    masked when a ``--db`` URL holds one).
    """
    try:
        shown_argv = [str(arg) for arg in (sys.argv[1:] if argv is None else argv)]
    except TypeError:  # not a sequence: argparse says so below
        shown_argv = []
    running = _ARGV.set(shown_argv)
    try:
        return _main(argv)
    except BrokenPipeError:
        # The reader (head, less) closed the pipe: stop quietly, as cat does. Point stdout
        # at /dev/null so that the interpreter's final flush does not fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return EXIT_PIPE_CLOSED
    except KeyboardInterrupt:
        print("leadmodel: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:
        if os.environ.get("LEADMODEL_DEBUG"):
            if all(masked(url) == url for url in _urls(shown_argv)):
                raise
            # A URL with a password: the traceback (and its causes), every password masked.
            text = "".join(traceback.format_exception(exc))
            print(_hide_passwords(text, shown_argv), end="", file=sys.stderr)
            return EXIT_INTERNAL
        said = _printable(_hide_passwords(str(exc), shown_argv).split("\n", 1)[0])
        print(
            f"leadmodel: internal error (please report it): {type(exc).__name__}: {said[:300]}",
            file=sys.stderr,
        )
        return EXIT_INTERNAL
    finally:
        _ARGV.reset(running)


def _main(argv: Sequence[str] | None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "demo":
        return run_demo(as_json=args.json, database=args.db)
    if args.command in COMMANDS:
        return _run_command(args)
    parser.print_help(sys.stderr)
    return 2
