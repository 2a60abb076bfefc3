"""Testing helpers for host applications.

Hypothesis strategies live in :mod:`leadmodel.testing.strategies` (install the ``testing``
extra).
"""
