"""Choice arguments are checked as text first: an object with a raising __eq__ or no hash
is refused with a ValidationError, never let through as a RuntimeError or TypeError."""

import pytest

from leadmodel import FieldMatcher, LoadBalanced, ValidationError
from leadmodel.domain._checks import one_of


class Hostile:
    def __repr__(self):
        raise RuntimeError("no repr")

    def __eq__(self, other):
        raise RuntimeError("no eq")

    __hash__ = None


class Word(str):
    """A str subclass (a StrEnum value, say) is still text."""

    __slots__ = ()


def test_one_of():
    assert one_of("day", ("day", "week"))
    assert one_of(Word("day"), frozenset({"day"}))
    assert not one_of("year", ("day", "week"))
    assert not one_of(Hostile(), ("day", "week"))
    assert not one_of(["day"], ("day", "week"))


@pytest.mark.parametrize(
    "build",
    [
        lambda: LoadBalanced(["a"], capacity=1, period=Hostile()),
        lambda: FieldMatcher("email", ["exact"], blank=Hostile()),
        lambda: FieldMatcher("email", [Hostile()]),
        lambda: FieldMatcher("email", ["exact"], normalizer=Hostile()),
    ],
)
def test_choice_fields_refuse_hostile_values(build):
    with pytest.raises(ValidationError):
        build()
