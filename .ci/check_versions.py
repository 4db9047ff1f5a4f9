"""Fail the install if the resolver fell back to releases the project cannot run on.

An unpinned resolver can silently pick bentoml 0.9/1.1 or mlflow 2 when a newer release needs packages
the registry lacks; this check turns that into a clear error at install time (and in CI).
"""

from __future__ import annotations

import sys
from importlib import metadata

from packaging.version import Version

MINIMUM = {"bentoml": "1.4", "mlflow": "3.0", "implicit": "0.7.2", "lightgbm": "4.5", "pandas": "2.2"}


def main() -> int:
    problems = []
    for name, minimum in MINIMUM.items():
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            problems.append(f"{name} is not installed (need >= {minimum})")
            continue
        if Version(installed) < Version(minimum):
            problems.append(f"{name} {installed} is installed; the project needs >= {minimum}")
        else:
            print(f"ok: {name} {installed}")
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
