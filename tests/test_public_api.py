import importlib
import inspect

import pytest

import leadmodel

PUBLIC_MODULES = [
    "leadmodel",
    "leadmodel.ports",
    "leadmodel.serialization",
    "leadmodel.adapters",
    "leadmodel.adapters.memory",
    "leadmodel.adapters.sqlite",
    "leadmodel.adapters.postgres",
    "leadmodel.testing.contracts",
    "leadmodel.testing.strategies",
    "leadmodel.domain.errors",
    "leadmodel.domain.values",
    "leadmodel.domain.fields",
    "leadmodel.domain.status",
    "leadmodel.domain.lead",
    "leadmodel.domain.contact",
    "leadmodel.domain.account",
    "leadmodel.domain.opportunity",
    "leadmodel.domain.activity",
    "leadmodel.domain.events",
    "leadmodel.domain.changes",
    "leadmodel.rules.normalize",
    "leadmodel.rules.matching",
    "leadmodel.rules.dedupe",
    "leadmodel.rules.blocks",
    "leadmodel.rules.merge",
    "leadmodel.rules.criteria",
    "leadmodel.rules.duplicate_rules",
    "leadmodel.rules.mapping",
    "leadmodel.rules.conversion",
    "leadmodel.rules.auto_conversion",
    "leadmodel.rules.scoring",
    "leadmodel.rules.qualification",
    "leadmodel.rules.predictive",
    "leadmodel.rules.backtest",
    "leadmodel.rules.assignment",
    "leadmodel.rules.responses",
    "leadmodel.rules.triggers",
    "leadmodel.rules.views",
    "leadmodel.intake",
    "leadmodel.analytics",
    "leadmodel.services",
    "leadmodel.distributed",
]


def isort_key(name):
    """ruff's RUF022 order: CONSTANTS, then Classes, then functions, each alphabetical."""
    if name.isupper():
        return (0, name)
    if name[:1].isupper():
        return (1, name)
    return (2, name)


@pytest.mark.parametrize("name", PUBLIC_MODULES)
def test_all_is_sorted_and_complete(name):
    module = importlib.import_module(name)
    exported = module.__all__
    assert list(exported) == sorted(exported, key=isort_key)
    for public in exported:
        assert hasattr(module, public), public
    defined_here = {
        attr
        for attr, value in vars(module).items()
        if not attr.startswith("_")
        and (inspect.isclass(value) or inspect.isfunction(value))
        and getattr(value, "__module__", None) == name
    }
    assert defined_here <= set(exported)


@pytest.mark.parametrize("name", leadmodel.__all__)
def test_every_public_name_is_documented(name):
    value = getattr(leadmodel, name)
    if inspect.isclass(value) or inspect.isfunction(value):
        assert inspect.getdoc(value), name


def test_design_names_are_importable_from_the_top():
    for name in [
        "EmailAddress", "PhoneNumber", "Money", "Address", "Lead", "Contact", "Account",
        "Opportunity", "Activity", "AccountContactRelation", "LeadStatus", "LeadProcess",
        "DEFAULT_LEAD_PROCESS", "LifecycleStage", "DEFAULT_OPPORTUNITY_PROCESS", "update",
        "transition", "advance", "regress", "LeadModelError", "ValidationError", "FieldError",
        "InvalidValue", "TransitionError", "ConvertedLeadError", "ConversionError",
        "AlreadyConverted", "InvalidConvertOptions", "MappingError", "DuplicateBlocked",
        "RecordNotFound", "ConcurrencyError", "to_dict", "from_dict", "to_json", "from_json",
        "FieldType", "FieldDef", "EntitySchema", "Notification", "FieldMapping",
        "DEFAULT_LEAD_MAPPING", "MergePolicy", "ConvertOptions", "ExistingRecords",
        "convert_lead", "ConversionResult", "AutoConvertRule", "convert_leads",
    ]:  # fmt: skip
        assert name in leadmodel.__all__


def test_errors_subclass_the_builtins_they_behave_like():
    assert issubclass(leadmodel.ValidationError, ValueError)
    assert issubclass(leadmodel.RecordNotFound, LookupError)
    assert issubclass(leadmodel.AlreadyConverted, leadmodel.ConvertedLeadError)
    assert issubclass(leadmodel.AlreadyConverted, leadmodel.ConversionError)
    for name in leadmodel.__all__:
        value = getattr(leadmodel, name)
        if inspect.isclass(value) and issubclass(value, Exception):
            assert issubclass(value, leadmodel.LeadModelError)


def test_the_package_is_typed():
    from importlib.resources import files

    assert files("leadmodel").joinpath("py.typed").is_file()


def test_the_top_level_convert_lead_is_pure_and_the_service_persists():
    import leadmodel.services
    from leadmodel.rules.conversion import convert_lead

    assert leadmodel.convert_lead is convert_lead
    assert leadmodel.services.convert_lead is not convert_lead
