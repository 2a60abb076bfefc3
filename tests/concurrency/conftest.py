"""The heavy variants of the fault tests: ``LEADMODEL_LONG=1``, or ``--long`` once registered."""

import os


def pytest_configure(config):
    """Let ``--long`` (tests/conftest.py or the root conftest, when present) mean LONG too."""
    if config.getoption("--long", default=False):
        os.environ.setdefault("LEADMODEL_LONG", "1")
