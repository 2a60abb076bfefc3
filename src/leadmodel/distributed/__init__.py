"""Run leadmodel on a Dask cluster (the ``dask`` extra): scoring and import.

Importing this package does not import Dask; its functions do.
"""

from leadmodel.distributed._import import FileImport, import_many
from leadmodel.distributed._score import score_dask, score_rows

__all__ = ["FileImport", "import_many", "score_dask", "score_rows"]
