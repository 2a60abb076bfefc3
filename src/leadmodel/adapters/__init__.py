"""Implementations of :mod:`leadmodel.ports`.

:mod:`leadmodel.adapters.memory` is the reference (tests, notebooks); host applications
write their own for their storage.
"""
