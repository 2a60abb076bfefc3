"""The ``leadmodel`` subcommands that work on a database (see :mod:`leadmodel.cli`).

Each command takes the parsed arguments, the :class:`~leadmodel.ports.Store` that
``--db`` opened (SQLite or PostgreSQL) and a ``say`` function, works through units of
work of that store and returns ``(exit code, JSON-able result)``. Problems with the
user's input raise :class:`CommandError` (one line, exit 2); the command line prints it
and never a traceback.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any, Final

from leadmodel import (
    BANT_POLICY,
    DEFAULT_LEAD_PROCESS,
    EXACT_EMAIL,
    EXACT_EMAIL_OR_PHONE,
    LEAD_SCHEMA,
    STANDARD_LEAD_RULE,
    Activity,
    AssignmentRule,
    AssignmentState,
    Band,
    ColumnMapping,
    Condition,
    ConvertOptions,
    Decay,
    EngagementRule,
    FieldDef,
    FieldType,
    FitRule,
    Lead,
    LeadModelError,
    LoadBalanced,
    MatchingRule,
    Qualification,
    QualificationPolicy,
    Queue,
    RecordNotFound,
    RoundRobin,
    RuleEntry,
    ScoringModel,
    ValidationError,
    assign_many,
    find_duplicates,
    from_json,
    funnel,
    qualify,
    read_csv,
    to_dict,
)
from leadmodel.intake import ImportReport, OnDuplicate, RowOutcome
from leadmodel.ports import Store, SupportsScrub, SupportsTriggerState
from leadmodel.services import (
    check_storage,
    convert_lead,
    erase,
    export_person,
    find_person,
    import_leads,
    merge_records,
    rescore,
    run_due,
    unmerge_records,
)

Say = Callable[[str], None]
Result = tuple[int, Any]


class CommandError(Exception):
    """Bad input to a command: printed as one line, exit code 2."""


def _now() -> datetime:
    # The command line is the edge of the system: the one place that reads the clock.
    return datetime.now(tz=UTC)


def _load_json(path: str, cls: type, what: str) -> Any:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise CommandError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    try:
        return from_json(cls, text)
    except (LeadModelError, ValueError) as exc:
        first = str(exc).splitlines()[0][:300]
        raise CommandError(f"{path} is not a valid {what}: {first}") from None


def _table(rows: list[list[str]], say: Say) -> None:
    if not rows:
        return
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for n, row in enumerate(rows):
        say("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
        if n == 0:
            say("  ".join("-" * width for width in widths))


def _ids(prefix: str) -> Callable[[str], str]:
    stamp = _now().strftime("%Y%m%d%H%M%S%f")
    counter = Counter[str]()

    def make(kind: str) -> str:
        counter[kind] += 1
        return f"{kind}-{prefix}{stamp}-{counter[kind]:06d}"

    return make


# -- import --------------------------------------------------------------------------------


def _open_csv(path: str) -> tuple[list[str], Iterator[dict[str, str]]]:
    try:
        return read_csv(path)
    except ValidationError as exc:
        error = exc.errors[0]
        if error.code == "no_header":
            raise CommandError(f"{path} has no header row") from None
        raise CommandError(f"cannot read {path}: {error.message}") from None


def _mapping(path: str | None, header: list[str], **options: Any) -> ColumnMapping:
    """The columns guessed from *header*, overridden by the JSON file at *path*."""
    columns = dict(ColumnMapping.guess(header).columns)
    if path is not None:
        try:
            given = json.loads(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise CommandError(f"cannot read {path}: {exc.strerror or exc}") from None
        except json.JSONDecodeError as exc:
            raise CommandError(f"{path} is not JSON: {exc.msg} (line {exc.lineno})") from None
        if not isinstance(given, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in given.items()
        ):
            raise CommandError(f"{path} must map column names to fields, as JSON text pairs")
        # A field the file maps is no longer guessed from another column (that column
        # is then kept aside as unmapped, not mapped twice).
        claimed = {target for target in given.values() if target not in ("ignore", "tags")}
        columns = {c: t for c, t in columns.items() if t not in claimed or c in given}
        columns.update(given)
    try:
        return ColumnMapping(tuple(columns.items()), **options)
    except LeadModelError as exc:
        raise CommandError(f"{path}: {str(exc).splitlines()[0]}") from None


RULES: Final[Mapping[str, MatchingRule]] = {
    "standard": STANDARD_LEAD_RULE,
    "exact-email": EXACT_EMAIL,
    "exact-email-or-phone": EXACT_EMAIL_OR_PHONE,
}
"""The matching rules ``--rule`` names, by what they do."""
_DEPRECATED_RULES: Final = {"exact": "exact-email-or-phone"}


def _rule(name: str) -> MatchingRule:
    """The rule ``--rule NAME`` names; an old name says its new one on stderr."""
    if name in _DEPRECATED_RULES:
        new = _DEPRECATED_RULES[name]
        print(
            f"leadmodel: warning: --rule {name} is deprecated, use --rule {new} (the same rule)",
            file=sys.stderr,
        )
        name = new
    return RULES[name]


def _progress_bar() -> Callable[..., Any] | None:
    """``tqdm`` when the ``progress`` extra is installed (plain counts otherwise)."""
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm  # type: ignore[no-any-return]


def _show_progress(rows: int) -> None:
    print(f"\r  {rows:,} rows read", end="", file=sys.stderr)


def import_rows(
    store: Store,
    rows: Iterable[Mapping[str, str]],
    mapping: ColumnMapping,
    *,
    on_duplicate: OnDuplicate,
    now: datetime,
    dry_run: bool = False,
    progress: bool = False,
    rule: MatchingRule = STANDARD_LEAD_RULE,
) -> tuple[ImportReport, list[dict[str, Any]]]:
    """Import *rows* with :func:`leadmodel.services.import_leads`: the report, first problems."""
    problems: list[dict[str, Any]] = []
    bar = _progress_bar() if progress else None
    if bar is not None:
        rows = bar(rows, unit=" rows", file=sys.stderr)

    def note(outcome: RowOutcome) -> None:
        if outcome.status == "rejected" and len(problems) < 20:
            errors = [f"{e.path}: {e.message}" for e in outcome.errors]
            problems.append({"line": outcome.line, "errors": errors})

    report = import_leads(
        store.unit_of_work(),
        rows,
        mapping,
        on_duplicate=on_duplicate,
        ids=_ids("imp"),
        now=now,
        dry_run=dry_run,
        progress=_show_progress if progress and bar is None else None,
        on_outcome=note,
        rule=rule,
    )
    if progress and bar is None:
        print(file=sys.stderr)
    return report, problems


def run_import(args: argparse.Namespace, store: Store, say: Say) -> Result:
    """``leadmodel import FILE``: stream a CSV of leads into the database."""
    header, rows = _open_csv(args.file)
    mapping = _mapping(args.mapping, header)
    on_duplicate: OnDuplicate = args.on_duplicate or ("skip" if args.dedupe else "create")
    rule = _rule(args.rule)
    try:
        counts, problems = import_rows(
            store,
            rows,
            mapping,
            on_duplicate=on_duplicate,
            now=_now(),
            dry_run=args.dry_run,
            progress=sys.stderr.isatty() and not args.json,
            rule=rule,
        )
    except (csv.Error, UnicodeDecodeError) as exc:
        raise CommandError(f"{args.file}: not a readable CSV file ({exc})") from None
    report = {
        "file": args.file,
        "rows": counts.rows,
        "created": counts.created,
        "updated": counts.updated,
        "merged": counts.merged,
        "duplicates": counts.skipped,
        "rejected": counts.rejected,
        "kept": counts.kept,
        "in_provenance": counts.in_provenance,
        "dry_run": args.dry_run,
        "rule": args.rule,
        "unmapped_columns": list(counts.unmapped_columns),
        "problems": problems,
    }
    verb = "would create" if args.dry_run else "created"
    say(
        f"{args.file}: {counts.rows:,} rows; {verb} {counts.created:,} leads, "
        f"{counts.skipped:,} duplicates skipped, {counts.rejected:,} rejected"
    )
    if counts.updated or counts.merged:
        say(
            f"  {counts.updated:,} leads updated ({counts.kept:,} differing values kept, "
            f"not written), {counts.merged:,} merged ({counts.in_provenance:,} values set "
            "aside in the stored merges)"
        )
    if counts.unmapped_columns:
        say(
            f"  kept in custom.import_extra (no field for them): "
            f"{', '.join(counts.unmapped_columns[:10])}"
            + (
                f" and {len(counts.unmapped_columns) - 10} more"
                if len(counts.unmapped_columns) > 10
                else ""
            )
        )
    for problem in problems[:10]:
        say(f"  line {problem['line']}: {'; '.join(problem['errors'])}")
    return 0, report


# -- dedupe ----------------------------------------------------------------------------------


def run_dedupe(args: argparse.Namespace, store: Store, say: Say) -> Result:
    """``leadmodel dedupe``: find duplicate leads, print the groups, merge them on ask.

    With ``--merge`` each group is merged by :func:`leadmodel.services.merge_records` (its
    own unit of work: activities move to the survivor, the merge is stored and can be
    undone with ``leadmodel unmerge MERGE_ID``). A group that cannot be merged is reported
    and the others are still merged; the exit code is then 1.
    """
    rule = _rule(args.rule)
    with store.unit_of_work() as uow:
        leads = [lead for lead in uow.leads if lead.converted is None]
    groups = find_duplicates(leads, rule)
    by_id = {lead.id: lead for lead in leads}
    merged: list[dict[str, Any]] = []
    failed: list[dict[str, Any]] = []
    now = _now()
    for group in groups:
        names = ", ".join(f"{i} ({by_id[i].name})" for i in group.ids)
        say(f"group of {len(group.ids)}: {names}")
        if not args.merge:
            continue
        try:
            outcome = merge_records(store.unit_of_work(), list(group.ids), now=now)
        except LeadModelError as exc:
            reason = str(exc).splitlines()[0][:300]
            say(f"  not merged: {reason}")
            failed.append({"ids": list(group.ids), "error": reason})
            continue
        record = outcome.record
        say(
            f"  merged into {record.survivor_id} as {record.id} "
            f"({len(record.moved)} dependant(s) moved)"
        )
        merged.append(
            {
                "merge_id": record.id,
                "survivor": record.survivor_id,
                "absorbed": list(record.absorbed_ids),
                "moved": len(record.moved),
            }
        )
    say(
        f"{len(groups)} duplicate group(s) among {len(leads):,} open leads (rule {rule.name})"
        + (f"; merged into {len(merged)} survivor(s)" if args.merge else "")
        + (f"; {len(failed)} group(s) not merged" if failed else "")
    )
    result = {"groups": [list(g.ids) for g in groups], "merged": merged, "failed": failed}
    return (1 if failed else 0), result


def run_unmerge(args: argparse.Namespace, store: Store, say: Say) -> Result:
    """``leadmodel unmerge MERGE_ID``: undo a stored merge (see ``dedupe --merge``)."""
    outcome = unmerge_records(store.unit_of_work(), args.merge_id, now=_now(), force=args.force)
    record = outcome.record
    restored = [r.id for r in outcome.restored]
    say(f"merge {record.id} undone: {record.kind} {', '.join(restored)} restored")
    say(f"  {len(outcome.moved_back)} dependant(s) moved back")
    for moved in outcome.left:
        say(f"  left as changed since the merge: {moved.kind} {moved.record_id} ({moved.field})")
    return 0, {
        "merge_id": record.id,
        "kind": record.kind,
        "restored": restored,
        "moved_back": [to_dict(m) for m in outcome.moved_back],
        "left": [to_dict(m) for m in outcome.left],
    }


# -- score, qualify, convert, show, report ---------------------------------------------------


def run_score(args: argparse.Namespace, store: Store, say: Say) -> Result:
    """``leadmodel score --model FILE``: re-score every stored lead."""
    model = _load_json(args.model, ScoringModel, "scoring model")
    report = rescore(store.unit_of_work(), model, now=_now(), write_rating=args.rating)
    rows = [["lead", "from", "to", "rating"]]
    rows += [
        [
            e.lead_id,
            "-" if e.previous is None else f"{e.previous:g}",
            f"{e.current:g}",
            e.rating or "-",
        ]
        for e in report.events[:50]
    ]
    _table(rows, say)
    skipped = len(report.skipped)
    say(f"{report.scored:,} leads scored, {report.changed:,} changed, {skipped} converted skipped")
    if report.conflicts:
        shown = ", ".join(report.conflicts[:10])
        print(
            f"leadmodel: conflict: {len(report.conflicts):,} lead(s) changed by someone else "
            f"while scored, not saved ({shown}); run again",
            file=sys.stderr,
        )
    return 4 if report.conflicts else 0, {
        "scored": report.scored,
        "changed": report.changed,
        "conflicts": list(report.conflicts),
        "events": [to_dict(e) for e in report.events],
    }


SCORE_FIELD: Final = "score"
"""The custom field ``leadmodel score`` stores each lead's score in (``rescore``'s default)."""
_UNSCORED: Final = (
    f"no stored score in custom.{SCORE_FIELD} for the policy's min_lead_score: "
    "run `leadmodel score --model FILE` first"
)


def _stored_score(lead: Lead) -> float | None:
    """The score ``leadmodel score`` stored on *lead* (``None`` when it was never scored)."""
    value = lead.custom.get(SCORE_FIELD)
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        return None
    return float(value)


def _is_open(lead: Lead) -> bool:
    """Not converted, not closed (a rejected capture is closed) in the default process."""
    status = DEFAULT_LEAD_PROCESS.get(lead.status)
    return lead.converted is None and (status is None or not status.is_closed)


def _is_held(lead: Lead) -> bool:
    """A capture held for approval: only ``approve_capture`` lets it in."""
    return lead.custom.get("pending_approval") is True


def _qualified(
    store: Store, policy: QualificationPolicy
) -> list[tuple[Lead, Qualification | None]]:
    """Every open lead with its decision, made with its stored score.

    ``None`` for a lead the policy cannot decide: it needs a lead score (``min_lead_score``)
    and the lead was never scored. Closed leads (a rejected capture among them) and
    captures held for approval are left out: converting them would let spam in.
    """
    decide = policy.compile()
    decisions: list[tuple[Lead, Qualification | None]] = []
    with store.unit_of_work() as uow:
        for lead in uow.leads:
            if not _is_open(lead) or _is_held(lead):
                continue
            stored = _stored_score(lead)
            if stored is None and policy.min_lead_score is not None:
                decisions.append((lead, None))
            else:
                decisions.append((lead, decide(lead, score=stored)))
    return decisions


def run_qualify(args: argparse.Namespace, store: Store, say: Say) -> Result:
    """``leadmodel qualify --policy FILE``: decide for every open lead, and say why.

    A policy with ``min_lead_score`` reads the score ``leadmodel score`` stored
    (``custom.score``); a lead never scored is listed as ``unscored``, not decided. A
    capture held for approval is listed as ``held``, not decided (approve it first).
    """
    policy = _load_json(args.policy, QualificationPolicy, "qualification policy")
    decisions = _qualified(store, policy)
    with store.unit_of_work() as uow:
        held = [lead.id for lead in uow.leads if _is_open(lead) and _is_held(lead)]
    say(f"policy {policy.name!r} reads: " + ", ".join(policy.fields_read or ("no fields",)))
    rows = [["lead", "decision", "why"]]
    rows += [
        [lead.id, "unscored", _UNSCORED]
        if q is None
        else [lead.id, q.decision, "; ".join(q.reasons[:3])]
        for lead, q in decisions[:50]
    ]
    _table(rows, say)
    counts = Counter("unscored" if q is None else q.decision for _, q in decisions)
    if held:
        counts["held for approval (not decided)"] = len(held)
    say(", ".join(f"{n:,} {decision}" for decision, n in sorted(counts.items())) or "no open leads")
    return 0, {
        "fields_read": list(policy.fields_read),
        "decisions": {lead.id: to_dict(q) for lead, q in decisions if q is not None},
        "unscored": [lead.id for lead, q in decisions if q is None],
        "held": held,
    }


def run_convert(args: argparse.Namespace, store: Store, say: Say) -> Result:
    """``leadmodel convert LEAD_ID`` or ``--qualified --policy FILE``."""
    if args.lead_id is None and not args.qualified:
        raise CommandError("give a LEAD_ID, or --qualified with --policy")
    if args.qualified:
        if args.policy is None:
            raise CommandError("--qualified needs --policy FILE")
        policy = _load_json(args.policy, QualificationPolicy, "qualification policy")
        targets = [
            lead.id for lead, q in _qualified(store, policy) if q is not None and q.qualified
        ]
    else:
        targets = [args.lead_id]
    status = DEFAULT_LEAD_PROCESS.converted_statuses[0].name
    converted = []
    ids = _ids("cnv")  # one generator for the command: its counter keeps the ids apart
    for lead_id in targets:
        outcome = convert_lead(
            store.unit_of_work(),
            lead_id,
            ConvertOptions(status, create_opportunity=not args.no_opportunity),
            ids=ids,
            now=_now(),
            match_existing=True,
        )
        result = outcome.result
        made = ", ".join(f"{type(r).__name__.lower()} {r.id}" for r in result.records)
        say(f"{lead_id}: {made}")
        converted.append({"lead": lead_id, "records": [r.id for r in result.records]})
    say(f"{len(converted)} lead(s) converted")
    return 0, {"converted": converted}


def run_show(args: argparse.Namespace, store: Store, say: Say) -> Result:
    """``leadmodel show LEAD_ID``."""
    with store.unit_of_work() as uow:
        lead = uow.leads.get(args.lead_id)
        activities = uow.activities.find_by_keys([f"subject:{args.lead_id}"]) if lead else []
    if lead is None:
        raise RecordNotFound("lead", args.lead_id)  # one line on stderr, exit code 1
    data = to_dict(lead)
    rows = [["field", "value"]]
    rows += [
        [key, json.dumps(value, ensure_ascii=False)]
        for key, value in data.items()
        if value not in (None, [], {}, False)
    ]
    _table(rows, say)
    say(f"{len(activities)} activit{'y' if len(activities) == 1 else 'ies'}")
    return 0, {"lead": data, "activities": [to_dict(a) for a in activities]}


def run_report(args: argparse.Namespace, store: Store, say: Say) -> Result:  # noqa: ARG001 - every command takes its arguments
    """``leadmodel report``: the funnel by status and by source."""
    with store.unit_of_work() as uow:
        leads = list(uow.leads)
    order = {s.name: s.order for s in DEFAULT_LEAD_PROCESS.statuses}
    statuses = Counter(lead.status for lead in leads)
    sources = Counter(lead.source or "(none)" for lead in leads)
    converted = sum(1 for lead in leads if lead.converted is not None)
    rows = [["status", "leads"]]
    rows += [
        [name, f"{n:,}"]
        for name, n in sorted(statuses.items(), key=lambda x: (order.get(x[0], 99), x[0]))
    ]
    _table(rows, say)
    say("")
    rows = [["source", "leads", "converted"]]
    for source, n in sources.most_common():
        won = sum(1 for lead in leads if (lead.source or "(none)") == source and lead.converted)
        rows.append([source, f"{n:,}", f"{won:,} ({won / n:.0%})"])
    _table(rows, say)
    rate = converted / len(leads) if leads else 0.0
    say(f"\n{len(leads):,} leads, {converted:,} converted ({rate:.1%})")
    return 0, {
        "leads": len(leads),
        "converted": converted,
        "by_status": dict(statuses),
        "by_source": dict(sources),
    }


def run_check(args: argparse.Namespace, store: Store, say: Say) -> Result:
    """``leadmodel check``: one line per stored record that breaks a domain rule.

    A thin face over :func:`leadmodel.services.check_storage`: exit code 0 when storage is
    clean, 1 when it holds problems; the count goes to stderr, so stdout holds only them.
    """
    result = check_storage(store.unit_of_work())
    for problem in result.problems:
        say(str(problem))
    if not args.json:
        count = len(result.problems)
        print(f"{count} problem(s) in {result.records:,} records", file=sys.stderr)
    return (0 if result.ok else 1), {
        "ok": result.ok,
        "records": result.records,
        "problems": [
            {"kind": p.kind, "record_id": p.record_id, "code": p.code, "message": p.message}
            for p in result.problems
        ],
    }


# -- tick ----------------------------------------------------------------------------------


def _tick_rules(path: str) -> list[Any]:
    """The rules file of ``tick``: ``{"triggers": [...], "auto_convert": [...]}``."""
    from leadmodel import AutoConvertRule, TimeTrigger, from_dict

    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise CommandError(f"cannot read rules {path}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise CommandError(f"{path} is not JSON: {str(exc)[:200]}") from None
    except RecursionError:
        raise CommandError(f"{path} is not JSON a rules file can hold: nested too deeply") from None
    if not isinstance(data, dict) or not set(data) <= {"triggers", "auto_convert"}:
        raise CommandError(
            f'{path} must be a JSON object with "triggers" and/or "auto_convert" lists'
        )
    rules: list[Any] = []
    for key, cls in (("triggers", TimeTrigger), ("auto_convert", AutoConvertRule)):
        items = data.get(key, [])
        if not isinstance(items, list):
            raise CommandError(f'{path}: "{key}" must be a list')
        for i, item in enumerate(items):
            try:
                rules.append(from_dict(cls, item))
            except (LeadModelError, ValueError, TypeError) as exc:
                first = str(exc).splitlines()[0][:300]
                raise CommandError(f"{path}: {key}[{i}] is not valid: {first}") from None
    return rules


def _tick_time(text: str, option: str) -> datetime:
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise CommandError(f"{option} {text!r} is not an ISO 8601 time") from None
    if at.utcoffset() is None:
        raise CommandError(f"{option} {text!r} needs a UTC offset (2026-03-02T09:00:00+00:00)")
    return at


def _tick_since(store: Store, since: datetime) -> None:
    """Start the trigger state at *since* (episodes due before it never fire), once."""
    from leadmodel import TriggerState

    with store.unit_of_work() as uow:
        if not isinstance(uow, SupportsTriggerState):
            raise CommandError("--since: this database stores no trigger state")
        found = uow.trigger_states.get("triggers")
        if found is None:
            uow.trigger_states.add(TriggerState(since=since))
            uow.commit()  # a tick racing this one: ConcurrencyError, exit code 4
        elif found.since != since:
            began = "the beginning" if found.since is None else found.since.isoformat()
            raise CommandError(
                f"--since {since.isoformat()}: the trigger state exists already and counts "
                f"from {began}; --since only starts a new one"
            )


def run_tick(args: argparse.Namespace, store: Store, say: Say) -> Result:
    """``leadmodel tick --rules FILE [--now ISO]``: run the time-based triggers due now.

    A thin face over :func:`leadmodel.services.run_due`; the command line sends nothing, so
    the notifications the triggers ask for are listed as the outbox for the host to send.
    """
    rules = _tick_rules(args.rules)
    now = _now() if args.now is None else _tick_time(args.now, "--now")
    if args.since is not None:
        _tick_since(store, _tick_time(args.since, "--since"))
    run = run_due(store.unit_of_work(), rules, notifier=None, ids=_ids("tick-"), now=now)
    rows = [["due at", "rule", "lead", "action", "outcome"]]
    rows += [
        [
            o.action.due_at.isoformat(timespec="minutes"),
            o.action.rule,
            o.action.record_id,
            o.action.action.kind,
            o.detail if o.applied else f"not applied: {o.detail}",
        ]
        for o in run.outcomes
    ]
    _table(rows, say)
    for conversion in run.conversions:
        say(f"auto-converted {conversion.lead_id}: {conversion.reason}")
    outbox = [n for n, _ in run.failed]
    for note in outbox:
        say(f"to send: {note.template} to {note.recipient} (lead {note.subject_id})")
    say(
        f"{len(run.applied)} action(s) applied, {len(run.refused)} not applied, "
        f"{len(run.conversions)} converted, {len(outbox)} notification(s) to send, "
        f"at {now.isoformat()}"
    )
    return 0, {
        "now": now.isoformat(),
        "outcomes": [
            {"action": to_dict(o.action), "applied": o.applied, "detail": o.detail}
            for o in run.outcomes
        ],
        "conversions": [to_dict(c) for c in run.conversions],
        "outbox": [to_dict(n) for n in outbox],
    }


# -- privacy ----------------------------------------------------------------------------------

PRIVACY_KEY_VARIABLE = "LEADMODEL_PRIVACY_KEY"
"""The environment variable holding the privacy key (when ``--key-file`` is not given)."""
_MAX_KEY_BYTES = 4096


class _Key:
    """The host's privacy key, read once from a file or the environment."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def secret(self) -> bytes:
        return self._secret


def _privacy_key(args: argparse.Namespace, *, required: bool) -> _Key | None:
    """The key of ``--key-file`` (its bytes, a final newline dropped) or of the variable."""
    if args.key_file:
        try:
            secret = Path(args.key_file).read_bytes()[: _MAX_KEY_BYTES + 1]
        except OSError as exc:
            raise CommandError(
                f"cannot read the key file {args.key_file}: {exc.strerror or exc}"
            ) from None
        secret = secret.rstrip(b"\r\n")
        if not secret:  # a key file was meant: never run silently without its key
            raise CommandError(f"the key file {args.key_file} is empty")
    else:
        secret = os.environ.get(PRIVACY_KEY_VARIABLE, "").encode("utf-8", "surrogateescape")
    if len(secret) > _MAX_KEY_BYTES:
        raise CommandError(f"the privacy key must be at most {_MAX_KEY_BYTES} bytes")
    if secret:
        return _Key(secret)
    if required:
        raise CommandError(
            f"erase needs the privacy key: --key-file PATH or the {PRIVACY_KEY_VARIABLE} "
            "environment variable"
        )
    return None


def _person(args: argparse.Namespace) -> dict[str, str]:
    person = {
        field: getattr(args, field)
        for field in ("email", "phone", "name")
        if getattr(args, field) is not None
    }
    if not person:
        raise CommandError("name the person: --email, --phone and/or --name")
    return person


def _write_private(path: str, text: str) -> None:
    """Write a new file only its owner can read; never replace an existing one."""
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise CommandError(f"{path} exists: choose a new file for the export") from None
    except OSError as exc:
        raise CommandError(f"cannot write {path}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            file.write(text)
    except OSError as exc:
        raise CommandError(f"cannot write {path}: {exc.strerror or exc}") from None


def run_privacy(args: argparse.Namespace, store: Store, say: Say) -> Result:
    """``leadmodel privacy find|export|erase``: a data subject's request over the database.

    ``find`` lists every record holding the person's data, ``export`` prints (or writes
    with ``--output``) the JSON document of :func:`leadmodel.services.export_person`,
    ``erase --mode delete|anonymise`` erases them and scrubs the database (when the store
    has :class:`~leadmodel.ports.SupportsScrub`). With a key
    (``--key-file`` or ``LEADMODEL_PRIVACY_KEY``), each request is logged as a keyed hash.
    """
    person = _person(args)
    now = _now()
    uow = store.unit_of_work()
    if args.privacy_action == "find":
        key = _privacy_key(args, required=False)
        found = find_person(uow, **person, key=key, now=now)
        rows = [["kind", "id", "owned", "fields"]]
        rows += [
            [f.kind, f.record_id, "yes" if f.owned else "mention", ", ".join(f.paths)]
            for f in found.findings
        ]
        say(f"{len(found.findings)} record(s) hold this person's data")
        _table(rows if found.findings else [], say)
        return 0, to_dict(found)
    if args.privacy_action == "export":
        key = _privacy_key(args, required=False)
        document = export_person(uow, **person, key=key, now=now)
        if args.output:
            _write_private(args.output, document + "\n")
            say(f"exported to {args.output}")
        elif not args.json:
            say(document)
        return 0, json.loads(document)
    key = _privacy_key(args, required=True)
    erasure = erase(uow, person, mode=args.mode, now=now, key=key)  # type: ignore[arg-type]
    counts = ", ".join(f"{n} {kind}" for kind, n in sorted(erasure.counts.items())) or "nothing"
    say(
        f"erased ({args.mode}): {len(erasure.deleted)} record(s) deleted, "
        f"{len(erasure.anonymised)} anonymised ({counts})"
    )
    if erasure.scrubbed:
        say("  the database was scrubbed (nothing of the deleted records is left in its files)")
    elif not isinstance(store, SupportsScrub):
        say("  this database keeps nothing of deleted records to scrub")
    else:
        say(
            "  NOT scrubbed: another connection was reading the database, so deleted bytes "
            "may remain in its files; run the erase again when it is done"
        )
    return 0, to_dict(erasure)


COMMANDS: dict[str, Callable[[argparse.Namespace, Store, Say], Result]] = {
    "import": run_import,
    "dedupe": run_dedupe,
    "unmerge": run_unmerge,
    "score": run_score,
    "qualify": run_qualify,
    "convert": run_convert,
    "show": run_show,
    "report": run_report,
    "check": run_check,
    "tick": run_tick,
    "privacy": run_privacy,
}


# -- the demo pipeline ---------------------------------------------------------------------


def _merge_groups(store: Store, *, now: datetime) -> tuple[int, int]:
    """Merge every duplicate group with ``merge_records``: groups and leads absorbed."""
    with store.unit_of_work() as uow:
        leads = [lead for lead in uow.leads if lead.converted is None]
    groups = find_duplicates(leads, STANDARD_LEAD_RULE)
    absorbed = 0
    for group in groups:
        outcome = merge_records(store.unit_of_work(), list(group.ids), now=now)
        absorbed += len(outcome.record.absorbed_ids)
    return len(groups), absorbed


def run_demo_pipeline(  # noqa: PLR0915 - the demo's steps, in the order it tells them
    store: Store, say: Say, *, now: datetime
) -> dict[str, Any]:
    """Run the packaged demo data through the lead lifecycle, saying what each step did.

    Import the leads and activities, then dedupe, score, qualify, assign and convert.
    """
    data = resources.files("leadmodel") / "_data"
    budget = FieldDef("budget", FieldType.CURRENCY)
    summary: dict[str, Any] = {}

    say("7. Import the demo data: about 2,000 leads from a CSV, into SQLite")
    with resources.as_file(data / "demo_leads.csv") as path:
        header, rows = _open_csv(str(path))
        columns = dict(ColumnMapping.guess(header).columns)
        columns |= {"budget": "custom.budget", "need": "custom.need", "timeline": "custom.timeline"}
        mapping = ColumnMapping(tuple(columns.items()), schema=LEAD_SCHEMA.with_custom(budget))
        counts, _problems = import_rows(store, rows, mapping, on_duplicate="create", now=now)
    say(f"   {counts.created:,} leads imported, {counts.rejected:,} rows rejected")
    with resources.as_file(data / "demo_activities.csv") as path, store.unit_of_work() as uow:
        added = 0
        for n, row in enumerate(_open_csv(str(path))[1]):
            found = uow.leads.find_by_keys([f"email:{row['email'].casefold()}"])
            if not found:
                continue
            uow.activities.add(
                Activity(
                    id=f"demo-activity-{n:05d}",
                    subject_id=found[0].id,
                    kind=row["kind"],
                    occurred_at=now - timedelta(days=int(row["days_ago"])),
                    properties={"url": row["url"]} if row["url"] else {},
                )
            )
            added += 1
        uow.commit()
    say(f"   {added:,} activities attached to their leads")
    summary["imported"] = counts.created

    say("8. Find duplicates (standard lead rule) and merge each group")
    groups, absorbed = _merge_groups(store, now=now)
    say(f"   {groups:,} groups merged, {absorbed:,} duplicate leads absorbed")
    summary["merged"] = absorbed

    say("9. Score every open lead: fit rules plus decaying engagement, rated Hot/Warm/Cold")
    report = rescore(store.unit_of_work(), DEMO_MODEL, now=now, write_rating=True)
    with store.unit_of_work() as uow:
        leads = [lead for lead in uow.leads if lead.converted is None]
    # Converted leads are read-only: rescore skips them, so they are not counted here either.
    ratings = Counter(lead.rating or "(none)" for lead in leads)
    say(
        f"   {report.scored:,} scored: "
        + ", ".join(f"{n:,} {name}" for name, n in _in_picklist_order(ratings))
        + _skipped(len(report.skipped))
    )
    summary["scored"] = report.scored
    summary["ratings"] = dict(ratings)

    fields = ", ".join(BANT_POLICY.fields_read)
    say(f"10. Qualify the open leads with BANT, 3 of 4 met (it reads {fields})")
    decisions = {lead.id: qualify(lead, BANT_POLICY) for lead in leads}
    counted = Counter(q.decision for q in decisions.values())
    say("   " + ", ".join(f"{n:,} {d}" for d, n in sorted(counted.items())))
    summary["qualification"] = dict(counted)

    say(
        "11. Assign: Hot leads round-robin to the account executives, Warm ones by load to the "
        "SDRs, the rest to the nurture queue"
    )
    batch = assign_many(leads, DEMO_ASSIGNMENT, AssignmentState(), now=now)
    with store.unit_of_work() as uow:
        for lead, assignment in zip(leads, batch.assignments, strict=True):
            uow.leads.update(assignment.apply(lead))
        uow.commit()
    owners = Counter(a.owner_id or a.queue_id for a in batch.assignments)
    say("   " + ", ".join(f"{owner}: {n:,}" for owner, n in sorted(owners.items())))
    summary["owners"] = dict(owners)

    say("12. Convert the ten best qualified leads into accounts, contacts and opportunities")
    with store.unit_of_work() as uow:
        best = sorted(
            (lead for lead in uow.leads if lead.id in decisions and decisions[lead.id].qualified),
            key=lambda lead: (-float(lead.custom.get("score") or 0), lead.id),  # type: ignore[arg-type]
        )[:10]
    status = DEFAULT_LEAD_PROCESS.converted_statuses[0].name
    ids = _ids("demo")
    made = Counter[str]()
    for lead in best:
        outcome = convert_lead(
            store.unit_of_work(),
            lead.id,
            ConvertOptions(status),
            ids=ids,
            now=now,
            match_existing=True,
        )
        made.update(outcome.result.created)
    say(
        f"   {len(best)} converted: {made['account']} accounts, {made['contact']} contacts, "
        f"{made['opportunity']} opportunities created"
    )
    summary["converted"] = len(best)
    with store.unit_of_work() as uow:
        table = funnel(uow.leads, process=DEFAULT_LEAD_PROCESS)
    say("   funnel, in process order: " + ", ".join(f"{row[0]} {row[1]:,}" for row in table.rows))
    summary["funnel"] = {str(row[0]): row[1] for row in table.rows}
    return summary


def _skipped(count: int) -> str:
    if not count:
        return ""
    if count == 1:
        return " (1 converted lead left as it was)"
    return f" ({count:,} converted leads left as they were)"


def _in_picklist_order(counts: Counter[str]) -> list[tuple[str, int]]:
    """*counts* of ratings as the rating picklist orders them (Hot, Warm, Cold), others after."""
    choices = LEAD_SCHEMA.field("rating").choices
    known = [(name, counts[name]) for name in choices if counts[name]]
    return known + sorted((n, c) for n, c in counts.items() if n not in choices)


DEMO_MODEL = ScoringModel(
    fit=[
        FitRule(
            "decision maker", Condition("title", "in", ("CEO", "Chief Technology Officer")), 25
        ),
        FitRule("senior", Condition("title", "starts_with", "VP"), 15),
        FitRule("big company", Condition("employees", "gte", 250), 15),
        FitRule("web lead", Condition("source", "eq", "Web"), 10),
        FitRule("has budget", Condition("custom.budget", "is_not_blank"), 15),
        FitRule("student", Condition("title", "eq", "Student"), -25),
    ],
    engagement=[
        EngagementRule(
            "pricing views",
            "page_view",
            5,
            cap=15,
            decay=Decay.linear(60),
            criterion=Condition("properties.url", "eq", "/pricing"),
        ),
        EngagementRule("opens", "email_opened", 2, cap=10, decay=Decay.half_life(30)),
        EngagementRule("demo request", "demo_requested", 30, decay=Decay.last(45)),
    ],
    total_cap=100,
    bands=[Band("Hot", 60), Band("Warm", 35), Band("Cold")],
    name="demo",
)
DEMO_ASSIGNMENT = AssignmentRule(
    [
        RuleEntry(Condition("rating", "eq", "Hot"), RoundRobin(["ae-ana", "ae-bo", "ae-cy"])),
        RuleEntry(
            Condition("rating", "eq", "Warm"),
            LoadBalanced(["sdr-dee", "sdr-eli"], capacity=400, period="day"),
        ),
    ],
    default_owner=Queue("nurture"),
)
