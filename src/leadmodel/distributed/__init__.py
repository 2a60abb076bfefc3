"""Run leadmodel on a Dask cluster (the ``dask`` extra): deduplication, scoring and import.

Importing this package does not import Dask; its functions do, and raise a
:class:`~leadmodel.ValidationError` saying what to install when it is missing.
"""

from leadmodel.distributed._dedupe import find_duplicates_dask
from leadmodel.distributed._import import FileImport, import_many
from leadmodel.distributed._score import score_dask, score_rows

__all__ = ["FileImport", "find_duplicates_dask", "import_many", "score_dask", "score_rows"]
