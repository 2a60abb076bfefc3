"""Every parser is linear in its input (DESIGN invariant 11; issue 15's hangs).

Each parser runs on 10k, 100k and 1M adversarial characters (and 10M with ``--long``) in a
subprocess with a time limit, the minimum of three calls per size; ten times the input
may cost at most thirty times the time, a bound loose enough for a loaded machine and
tight enough to catch a quadratic path (×100).
"""

import itertools
import json
import subprocess
import sys
from pathlib import Path

import pytest
from _timing import CASES

SCRIPT = Path(__file__).with_name("_timing.py")
GROWTH = 30.0
FLOOR = 0.002  # seconds: below this, timer noise decides the ratio, so it counts as this
LIMIT = 60  # seconds for all sizes of one case


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_parser_is_linear_in_its_input(case, long_run):
    sizes = [10_000, 100_000, 1_000_000, 10_000_000] if long_run else [10_000, 100_000, 1_000_000]
    try:
        done = subprocess.run(
            [sys.executable, str(SCRIPT), case, *map(str, sizes)],
            capture_output=True,
            text=True,
            timeout=LIMIT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"{case}: sizes {sizes} took over {LIMIT} s")
    assert done.returncode == 0, done.stderr[-2000:]
    times = {int(size): seconds for size, seconds in json.loads(done.stdout).items()}
    for small, large in itertools.pairwise(sizes):
        ratio = max(times[large], FLOOR) / max(times[small], FLOOR)
        assert ratio <= GROWTH, (
            f"{case}: {small:,} chars took {times[small]:.4f} s, {large:,} took "
            f"{times[large]:.4f} s (×{ratio:.0f} for ×10 input)"
        )
