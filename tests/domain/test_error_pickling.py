"""Every leadmodel error pickles whole, so one raised in a worker process reaches the caller.

Seen (issue 19): ``ValidationError`` could not be unpickled (``__init__() missing
'errors'``), so a Dask worker's refusal came back as a different error.
"""

from __future__ import annotations

import pickle

import pytest

import leadmodel
from leadmodel import FieldError, LeadModelError, ValidationError
from leadmodel.domain import errors as errors_module


def _every_error_class() -> list[type[LeadModelError]]:
    found: set[type[LeadModelError]] = set()
    todo = [LeadModelError]
    while todo:
        cls = todo.pop()
        found.add(cls)
        todo.extend(cls.__subclasses__())
    return sorted(found, key=lambda cls: cls.__qualname__)


def test_a_validation_error_survives_pickling_with_its_errors():
    error = ValidationError("Lead", [FieldError("email", "invalid", "not an address")])
    back = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own bytes
    assert type(back) is ValidationError
    assert (back.entity, back.errors, str(back)) == (error.entity, error.errors, str(error))


@pytest.mark.parametrize("cls", _every_error_class(), ids=lambda cls: cls.__qualname__)
def test_every_error_class_pickles_with_its_attributes(cls):
    # Built without its __init__ (signatures differ), as raising code fills it.
    error = cls.__new__(cls)
    error.args = ("message",)
    error.__dict__.update({"entity": "Lead", "errors": (FieldError("a", "b", "c"),)})
    back = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own bytes
    assert type(back) is cls
    assert back.args == error.args
    assert back.__dict__ == error.__dict__


def test_the_errors_leadmodel_exports_are_covered():
    exported = {
        obj
        for name in dir(leadmodel)
        if isinstance(obj := getattr(leadmodel, name), type) and issubclass(obj, LeadModelError)
    }
    assert exported <= set(_every_error_class())
    assert errors_module.LeadModelError is LeadModelError
