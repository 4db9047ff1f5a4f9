"""The public API: every name each package lists in ``__all__`` resolves, and a typo says so."""

from __future__ import annotations

import importlib

import pytest

PACKAGES = ("engine", "engine.data", "engine.customers", "engine.recommend", "engine.pricing")


@pytest.mark.parametrize("package", PACKAGES)
def test_every_public_name_resolves(package):
    module = importlib.import_module(package)
    assert module.__all__ == sorted(module.__all__) and dir(module) == module.__all__
    for name in module.__all__:
        assert getattr(module, name) is not None, name


def test_the_top_level_names_are_the_defining_objects():
    from engine import ChurnClassifier, load_shop, make_recommender
    from engine.customers.churn_gbm import ChurnClassifier as defined
    from engine.data.sources import load_shop as loader
    from engine.recommend.registry import make_recommender as maker

    assert (ChurnClassifier, load_shop, make_recommender) == (defined, loader, maker)


def test_an_unknown_name_is_an_attribute_error_naming_it():
    import engine

    with pytest.raises(AttributeError, match="ChurnClasifier"):
        engine.ChurnClasifier  # noqa: B018 - the access is the test
