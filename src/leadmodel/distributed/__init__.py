"""Run leadmodel on a Dask cluster (the ``dask`` extra).

Importing this package does not import Dask; its functions do, and raise a
:class:`~leadmodel.ValidationError` saying what to install when it is missing.
"""

from leadmodel.distributed._dedupe import find_duplicates_dask

__all__ = ["find_duplicates_dask"]
