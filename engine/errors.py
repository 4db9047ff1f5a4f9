"""Exceptions the engine raises for its users' mistakes (bad data, bad parameters, unfitted models)."""


class EngineError(Exception):
    """Base class: an error caused by the caller's input, with a message that names what is wrong."""


class DataValidationError(EngineError, ValueError):
    """A table broke its data contract; the message names the rows, fields and rules."""


class NotFittedError(EngineError, RuntimeError):
    """A model was asked for something that needs ``fit`` first."""


class ModelFormatError(EngineError, ValueError):
    """A saved model cannot be loaded by this version of the engine (wrong kind, format or version)."""
