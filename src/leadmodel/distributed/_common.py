"""What every Dask entry point shares: Dask itself, imported only when a function runs."""

from __future__ import annotations

from typing import Any

from leadmodel.domain.errors import FieldError, ValidationError

__all__ = ["require_dask"]


def require_dask(function: str) -> Any:
    """The ``dask`` module with its bag and dataframe collections, or a clear error.

    Raises:
        ValidationError: of *function*, code ``missing``, naming the extra to install.
    """
    try:
        import dask
        import dask.bag
        import dask.dataframe
    except ImportError:
        raise ValidationError(
            function,
            [FieldError("dask", "missing", 'needs the dask extra: pip install "leadmodel[dask]"')],
        ) from None
    return dask
