"""The ``hypothesis`` entry point: registers leadmodel's strategies for ``st.from_type``.

Hypothesis runs this hook the first time it is imported, which may be *while*
:mod:`leadmodel.testing.strategies` is half-loaded (that module imports hypothesis). So the
hook registers deferred strategies that look the real ones up only when first drawn.
"""

from __future__ import annotations

import importlib
from typing import Any


def registrations() -> list[tuple[type, str]]:
    """Each registered class with the name of its strategy in ``strategies``."""
    from leadmodel.domain.account import Account
    from leadmodel.domain.activity import Activity
    from leadmodel.domain.consent import Consent, PrivacyLogEntry
    from leadmodel.domain.contact import Contact
    from leadmodel.domain.fields import FieldValues
    from leadmodel.domain.lead import Lead
    from leadmodel.domain.opportunity import Opportunity
    from leadmodel.domain.values import Address, EmailAddress, Money, PhoneNumber
    from leadmodel.rules.conversion import ConvertOptions
    from leadmodel.rules.scoring import Decay, ScoringModel

    return [
        (Lead, "leads"),
        (Contact, "contacts"),
        (Account, "accounts"),
        (Opportunity, "opportunities"),
        (Activity, "activities"),
        (EmailAddress, "emails"),
        (PhoneNumber, "phones"),
        (Money, "moneys"),
        (Address, "addresses"),
        (FieldValues, "custom_values"),
        (ConvertOptions, "convert_options"),
        (ScoringModel, "scoring_models"),
        (Decay, "decays"),
        (Consent, "consents"),
        (PrivacyLogEntry, "privacy_log_entries"),
    ]


def _setup() -> None:
    from hypothesis import strategies as st

    def deferred(name: str) -> st.SearchStrategy[Any]:
        def resolve() -> st.SearchStrategy[Any]:
            module = importlib.import_module("leadmodel.testing.strategies")
            strategy: st.SearchStrategy[Any] = getattr(module, name)()
            return strategy

        return st.deferred(resolve)

    for cls, name in registrations():
        st.register_type_strategy(cls, deferred(name))
