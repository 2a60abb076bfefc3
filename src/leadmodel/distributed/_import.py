"""Import many CSV files in parallel on Dask: one task per file, a report per file.

Dask is imported only when :func:`import_many` runs.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import attrs

from leadmodel._html import result_html
from leadmodel.adapters.memory import SequentialIds
from leadmodel.distributed._common import require_dask
from leadmodel.domain import _checks
from leadmodel.domain._typed import check_fields
from leadmodel.domain.errors import FieldError, ValidationError
from leadmodel.domain.lead import Lead
from leadmodel.intake import ColumnMapping, ImportReport, RowOutcome, import_leads, read_csv
from leadmodel.rules.layouts import RecordType
from leadmodel.rules.matching import CompiledRule, MatchingRule

#: A file's mapping: one for every file, or a function of each file's header.
FileMapping = ColumnMapping | Callable[[list[str]], ColumnMapping]

__all__ = ["FileImport", "import_many"]


@attrs.frozen
class FileImport:
    """The import of one file by :func:`import_many`.

    *path* is the file; *report* its :class:`~leadmodel.ImportReport` (``None`` when the
    file could not be opened: *problems* say why); *outcomes* one
    :class:`~leadmodel.RowOutcome` per row, in file order. Nothing is saved: apply the
    outcomes as :func:`leadmodel.import_leads` documents (or hand the rows to
    :func:`leadmodel.services.import_leads`).

    >>> FileImport("a.csv", None, problems=(FieldError("path", "missing", "no such file"),)).ok
    False

    Raises:
        ValidationError: a field of the wrong type (a *path* that is not text, …).
    """

    _repr_html_ = result_html

    path: str
    report: ImportReport | None
    outcomes: tuple[RowOutcome, ...] = ()
    problems: tuple[FieldError, ...] = ()

    def __attrs_post_init__(self) -> None:
        check_fields(self)

    @property
    def ok(self) -> bool:
        """Whether the file was read (its rows may still be rejected: see *report*)."""
        return self.report is not None and not self.problems

    @property
    def created(self) -> tuple[Lead, ...]:
        """The leads the file's ``created`` rows made, in file order."""
        return tuple(o.lead for o in self.outcomes if o.status == "created" and o.lead)


def _mapping_for(mapping: FileMapping, header: list[str]) -> ColumnMapping:
    """*mapping*, or what the caller's function makes of the file's *header*."""
    if isinstance(mapping, ColumnMapping):
        return mapping
    made = mapping(list(header))
    if not isinstance(made, ColumnMapping):
        raise ValidationError(
            "import_many",
            [
                FieldError(
                    "mapping",
                    "type",
                    f"must return a ColumnMapping for the header, not {type(made).__name__}",
                )
            ],
        )
    return made


def _import_one(  # noqa: PLR0917 - a Dask task's arguments
    path: str,
    prefix: str,
    mapping: FileMapping,
    now: datetime,
    rule: MatchingRule | CompiledRule | None,
    on_duplicate: str,
    record_type: RecordType | None = None,
) -> FileImport:
    try:
        header, stream = read_csv(path)
        # Started, the stream closes its file when closed (read_csv's stream opens the
        # file at once but only closes it from inside: unstarted, it would leak it).
        first = next(stream, None)
        rows = itertools.chain(() if first is None else (first,), stream)
        try:
            run = import_leads(
                rows,
                _mapping_for(mapping, header),
                ids=SequentialIds(prefix=prefix),
                now=now,
                rule=rule,
                on_duplicate=on_duplicate,  # type: ignore[arg-type]
                record_type=record_type,
            )
            outcomes = tuple(run)
        finally:
            close = getattr(stream, "close", None)
            if callable(close):
                close()
        return FileImport(path, run.report, outcomes)
    except ValidationError as error:
        return FileImport(path, None, problems=error.errors)
    except OSError as error:
        return FileImport(
            path, None, problems=(FieldError("path", "unreadable", error.strerror or "unreadable"),)
        )


def _check(  # noqa: PLR0917 - every argument checked at once
    paths: object,
    mapping: object,
    client: object,
    ids_prefix: object,
    now: object,
    rule: object,
    record_type: object,
) -> list[str]:
    problems: list[FieldError] = []
    names: list[str] = []
    if isinstance(paths, (str, bytes, os.PathLike)) or not isinstance(paths, Sequence):
        problems.append(FieldError("paths", "type", "must be a list of file paths"))
    elif not paths:
        problems.append(FieldError("paths", "empty", "must name at least one file"))
    else:
        for i, path in enumerate(paths):
            try:
                name = os.fspath(path) if isinstance(path, (str, os.PathLike)) else None
            except TypeError:  # a path object whose __fspath__ gives neither str nor bytes
                name = None
            if not isinstance(name, str):  # a path object naming bytes too
                problems.append(FieldError(f"paths[{i}]", "type", "must be a file path (text)"))
            else:
                names.append(name)
        if len(set(names)) != len(names):
            problems.append(FieldError("paths", "repeated", "names a file twice"))
    if not isinstance(mapping, ColumnMapping) and not callable(mapping):
        problems.append(
            FieldError("mapping", "type", "must be a ColumnMapping or a function of the header")
        )
    problem = _checks.text_problem(ids_prefix, 40)
    if problem is not None:
        problems.append(FieldError("ids_prefix", problem[0], problem[1]))
    if not isinstance(now, datetime) or now.utcoffset() is None:
        problems.append(FieldError("now", "type", "must be a timezone-aware datetime"))
    if rule is not None and not isinstance(rule, (MatchingRule, CompiledRule)):
        problems.append(FieldError("rule", "type", "must be a MatchingRule"))
    if record_type is not None and (
        not isinstance(record_type, RecordType) or record_type.kind != "lead"
    ):
        problems.append(FieldError("record_type", "type", "must be a RecordType of leads"))
    if client is not None and not hasattr(client, "compute"):
        problems.append(FieldError("client", "type", "must be a dask.distributed Client"))
    if problems:
        raise ValidationError("import_many", problems)
    return names


def import_many(
    paths: Sequence[str | Path],
    mapping: FileMapping,
    *,
    client: Any = None,
    ids_prefix: str = "f",
    now: datetime,
    rule: MatchingRule | CompiledRule | None = None,
    on_duplicate: str = "skip",
    record_type: RecordType | None = None,
) -> tuple[FileImport, ...]:
    r"""Import the CSV files *paths* in parallel, one Dask task per file; a result per file.

    Each file goes through :func:`leadmodel.import_leads` with *mapping*, *now*, *rule*,
    *on_duplicate* and *record_type* (each row stamped with that lead record type and
    checked against its layout), exactly as one process would read it alone: duplicates
    are found within a file, not across files (run :func:`leadmodel.find_duplicates` on
    the created leads for that). *mapping* is a :class:`~leadmodel.ColumnMapping` for
    every file, or a function of a file's header (the list :func:`leadmodel.read_csv`
    returns) giving that file's mapping — :meth:`ColumnMapping.guess`, say, for exports
    whose columns differ; it runs in the worker, so it must be picklable (a module-level
    function), and what it raises as a :class:`~leadmodel.ValidationError` (or a result
    that is not a mapping) becomes that file's *problems* (other exceptions it raises are
    its own, and pass through). ``import_leads``' *existing* and *progress* are not
    offered: a live store or a callback cannot travel to the workers (apply the outcomes
    with :func:`leadmodel.services.import_leads`). Ids are unique across files: file *i*
    (from 0, in *paths* order) numbers its leads ``<ids_prefix><i>-lead-000001``….
    The results come back in *paths* order; a file that cannot be opened gets
    ``report=None`` and its *problems*, the other files are imported all the same. Runs
    on *client* (a ``dask.distributed.Client``) when given, else on Dask's current
    scheduler.

    >>> import tempfile, pathlib
    >>> from datetime import datetime, timezone
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> for n in range(2):
    ...     _ = (folder / f"{n}.csv").write_text(f"Last Name,Company\nNg{n},Acme\n")
    >>> mapping = ColumnMapping.guess(["Last Name", "Company"])
    >>> done = import_many(
    ...     [folder / "0.csv", folder / "1.csv"],
    ...     mapping,
    ...     now=datetime(2026, 1, 1, tzinfo=timezone.utc),
    ... )
    >>> [(f.report.created, [lead.id for lead in f.created]) for f in done]
    [(1, ['f0-lead-000001']), (1, ['f1-lead-000001'])]

    Files whose columns differ, each read with the mapping its own header suggests:

    >>> _ = (folder / "2.csv").write_text("Surname;Company;E-mail\nNg;Acme;n@acme.com\n")
    >>> done = import_many(
    ...     [folder / "0.csv", folder / "2.csv"],
    ...     ColumnMapping.guess,
    ...     now=datetime(2026, 1, 1, tzinfo=timezone.utc),
    ... )
    >>> [(lead.last_name, lead.company) for f in done for lead in f.created]
    [('Ng0', 'Acme'), ('Ng', 'Acme')]

    Raises:
        ValidationError: *paths* is empty, not a list of paths or names a file twice, or
            a wrong *mapping*, *ids_prefix*, *now*, *rule*, *on_duplicate*,
            *record_type* or *client*.
    """
    names = _check(paths, mapping, client, ids_prefix, now, rule, record_type)
    if not _checks.one_of(on_duplicate, ("skip", "update", "merge", "create")):
        raise ValidationError(
            "import_many",
            [FieldError("on_duplicate", "invalid", "must be skip, update, merge or create")],
        )
    require_dask("import_many")
    from dask.base import compute
    from dask.delayed import delayed

    width = len(str(len(names) - 1))
    tasks = [
        delayed(_import_one, pure=False)(
            name, f"{ids_prefix}{i:0{width}d}-", mapping, now, rule, on_duplicate, record_type
        )
        for i, name in enumerate(names)
    ]
    if client is not None:
        return tuple(client.gather(client.compute(tasks)))
    return tuple(compute(*tasks))  # type: ignore[no-untyped-call]
