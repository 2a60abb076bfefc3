"""The cluster tests: a LocalCluster's scheduler runs in this process, in its own thread."""

import pytest

# The scheduler thread draws from the `random` module (heartbeat jitter) while hypothesis
# generates an example; hypothesis takes that for a strategy using `random` and warns, which
# the suite turns into an error: only on the runs where the thread happens to draw, so the
# example then fails to replay. No strategy here uses `random`.
_RANDOM_IN_A_THREAD = "ignore:Do not use the `random` module inside strategies"


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/distributed/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.filterwarnings(_RANDOM_IN_A_THREAD))
