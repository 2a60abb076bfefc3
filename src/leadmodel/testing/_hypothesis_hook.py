"""The ``hypothesis`` entry point: registers leadmodel's strategies for ``st.from_type``.

Kept apart from :mod:`leadmodel.testing.strategies` and importing it inside the hook, so
hypothesis can load the entry point while the strategies module is not yet imported.
"""


def _setup() -> None:
    from leadmodel.testing import strategies

    strategies.register_type_strategies()
