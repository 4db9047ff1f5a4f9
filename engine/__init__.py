"""CRM engine: recommendations, customer value and pricing from a shop's own transactions.

The library is pure Python over numpy/scipy/pandas/implicit/lightgbm; it never imports MLflow or
BentoML (those live in ``training/`` and ``serving/``).
"""

__version__ = "0.1.0"
