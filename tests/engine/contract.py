"""The estimator contract every engine model passes (:class:`engine.base.EngineModel`). Each family's
contract class (recommenders, customer models, pricing estimators) inherits it, so a new model of any
family gets these tests by naming how to build it (``make_model``) and one call that needs a fit."""

from __future__ import annotations

from typing import Any

import pytest

from engine.base import EngineModel
from engine.errors import EngineError, NotFittedError


class EngineModelContract:
    """Shared tests; subclasses define ``make_model`` and ``use_unfitted``."""

    def make_model(self) -> EngineModel:
        raise NotImplementedError

    def use_unfitted(self, model: Any) -> object:
        """Call something that needs a fitted ``model``."""
        raise NotImplementedError

    def test_init_stores_every_param_unchanged_and_learns_nothing(self):
        model = self.make_model()
        assert list(model.get_params()) == type(model).param_names()
        assert not any(name.endswith("_") and not name.startswith("_") for name in vars(model))
        assert not model.is_fitted()

    def test_get_params_rebuild_an_equal_unfitted_copy(self):
        model = self.make_model()
        copy = type(model)(**model.get_params())
        assert copy.get_params() == model.get_params()
        assert repr(copy) == repr(model)

    def test_set_params_changes_a_param_and_refuses_an_unknown_one(self):
        model = self.make_model()
        name, value = next(iter(model.get_params().items()))
        assert model.set_params(**{name: value}) is model
        with pytest.raises(EngineError, match="no_such_param"):
            model.set_params(no_such_param=1)

    def test_an_unfitted_model_says_so_by_name(self):
        model = self.make_model()
        with pytest.raises(NotFittedError, match=type(model).__name__):
            self.use_unfitted(model)
