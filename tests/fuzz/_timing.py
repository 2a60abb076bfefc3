"""Time one parser on adversarial inputs of growing size; run as a script in a subprocess.

``python _timing.py CASE SIZE...`` prints one JSON object: size → the minimum of a few
timed calls, in seconds. A subprocess because C code (``re``, ``decimal``, ``csv``) cannot
be interrupted in-process: the test kills the process at its time limit.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import leadmodel
from leadmodel import LeadModelError

NOW = datetime(2026, 1, 1, tzinfo=UTC)
Case = Callable[[int], Callable[[], object]]


def _quietly(call: Callable[[], object]) -> Callable[[], object]:
    def run() -> object:
        try:
            return call()
        except LeadModelError as exc:
            return exc

    return run


def _form(value: Callable[[int], str]) -> Case:
    spec = leadmodel.FormSpec(max_chars=10_000_000)

    def case(n: int) -> Callable[[], object]:
        form = {"last_name": "Ng", "description": value(n)}
        return _quietly(lambda: leadmodel.parse_web_form(form, spec, ids=str, now=NOW))

    return case


def _cell(target: str, value: Callable[[int], str]) -> Case:
    mapping = leadmodel.ColumnMapping([("n", "last_name"), ("v", target)])

    def case(n: int) -> Callable[[], object]:
        rows = [{"n": "Ng", "v": value(n)}]
        return _quietly(lambda: list(leadmodel.import_leads(rows, mapping, ids=str, now=NOW)))

    return case


def _csv_header(n: int) -> Callable[[], object]:
    path = Path(tempfile.mkdtemp()) / "header.csv"
    path.write_text(',"' * (n // 2) + "\nx\n", encoding="utf-8")
    return _quietly(lambda: leadmodel.read_csv(path))


def _csv_rows(n: int) -> Callable[[], object]:
    path = Path(tempfile.mkdtemp()) / "rows.csv"
    path.write_text("n,c\n" + "Ng,Acme\n" * (n // 8), encoding="utf-8")

    def run() -> object:
        _header, rows = leadmodel.read_csv(path)
        return sum(1 for _ in rows)

    return _quietly(run)


def _text(function: Callable[[str], object], value: Callable[[int], str]) -> Case:
    def case(n: int) -> Callable[[], object]:
        text = value(n)
        return _quietly(lambda: function(text))

    return case


def _from_json(cls: object, value: Callable[[int], str]) -> Case:
    def case(n: int) -> Callable[[], object]:
        text = value(n)
        return _quietly(lambda: leadmodel.from_json(cls, text))  # type: ignore[arg-type]

    return case


def _normalizer(name: str) -> Callable[[str], object]:
    from leadmodel.rules import normalize

    function = getattr(normalize, name)
    return lambda text: function(text + str(time.perf_counter_ns()))  # defeat the cache


CASES: dict[str, Case] = {
    "email": _text(leadmodel.EmailAddress.parse, lambda n: "a@" * (n // 2)),
    "email_quoted_name": _text(
        leadmodel.EmailAddress.parse, lambda n: '"' + '\\"' * (n // 2) + '" <a@b.co>'
    ),
    "phone": _text(leadmodel.PhoneNumber.parse, lambda n: "1" * n),
    "form_description": _form(lambda n: ',"=' * (n // 3)),
    "form_employees": _form(lambda n: "9" * n),
    "import_employees": _cell("employees", lambda n: "9" * n),
    "import_revenue_exponent": _cell("annual_revenue", lambda n: "1e" + "9" * n),
    "import_date": _cell("created_at", lambda n: "1/1/" + "9" * n),
    "import_tags": _cell("tags", lambda n: "a;," * (n // 3)),
    "read_csv_header": _csv_header,
    "read_csv_rows": _csv_rows,
    "from_json_deep": _from_json(leadmodel.Not, lambda n: "[" * n + "]" * n),
    "from_json_long_text": _from_json(leadmodel.Condition, lambda n: '"' + "x" * n + '"'),
    "from_json_criteria": _from_json(
        leadmodel.Any,
        lambda n: (
            '{"kind": "any", "items": ['
            + ",".join(['{"kind": "condition", "field": "a", "op": "is_blank"}'] * (n // 60))
            + "]}"
        ),
    ),
    "normalize_company": _text(_normalizer("normalize_company"), lambda n: "a. " * (n // 3)),
    "normalize_website": _text(_normalizer("normalize_website"), lambda n: "www." * (n // 4)),
    "normalize_person_name": _text(_normalizer("normalize_person_name"), lambda n: "é-" * (n // 2)),
}


def measure(case: str, sizes: list[int], repeats: int = 3) -> dict[int, float]:
    times: dict[int, float] = {}
    for size in sizes:
        best = float("inf")
        for _ in range(repeats):
            call = CASES[case](size)
            start = time.perf_counter()
            call()
            best = min(best, time.perf_counter() - start)
        times[size] = best
    return times


if __name__ == "__main__":
    name, *given = sys.argv[1:]
    print(json.dumps(measure(name, [int(s) for s in given])))  # noqa: T201 - the script's output
