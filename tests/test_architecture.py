"""The house rules that a reader of the code base can rely on, checked on the source with ``ast``:

- no module over :data:`MAX_MODULE_LINES` lines, no function (or method) over :data:`MAX_FUNCTION_LINES`;
- MLflow is imported only by the tracking module (``training/tracking``): the pipelines call it;
- no private BentoML API (``bentoml._internal``) anywhere, and BentoML itself is not imported by
  ``engine/`` nor ``training/`` except where the bundle is stored and the Bento built.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("engine", "training", "serving")
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60

# where the tracking store is written and read: the only importers of mlflow
MLFLOW_ALLOWED = ("training/tracking.py", "training/tracking/")
# where the serving bundle is stored in BentoML's model store and the Bento built, and the commands that
# read that store to start or check the service
BENTOML_ALLOWED = ("training/model_store.py", "training/commands/serving.py", "training/commands/console.py")


def _modules() -> Iterator[tuple[str, ast.Module, int]]:
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            text = path.read_text(encoding="utf-8")
            yield relative, ast.parse(text, filename=relative), len(text.splitlines())


MODULES = list(_modules())


def _imports(tree: ast.Module) -> Iterator[tuple[int, str]]:
    """Every imported module name with its line (``from a.b import c`` gives ``a.b`` and ``a.b.c``)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module
            for alias in node.names:
                yield node.lineno, f"{node.module}.{alias.name}"


def _is(name: str, package: str) -> bool:
    return name == package or name.startswith(f"{package}.")


def _allowed(module: str, places: tuple[str, ...]) -> bool:
    return any(module == place or (place.endswith("/") and module.startswith(place)) for place in places)


def test_the_walk_sees_the_code_base() -> None:
    names = {module for module, _, _ in MODULES}
    assert {"engine/base.py", "training/cli.py", "serving/service.py"} <= names
    assert len(names) > 100


def _functions(tree: ast.Module) -> Iterator[tuple[str, int]]:
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            start = min([node.lineno, *(decorator.lineno for decorator in node.decorator_list)])
            yield f"{node.name} (line {node.lineno})", (node.end_lineno or node.lineno) - start + 1


@pytest.mark.parametrize(("module", "tree", "lines"), MODULES, ids=[module for module, _, _ in MODULES])
def test_module_and_function_sizes(module: str, tree: ast.Module, lines: int) -> None:
    assert lines <= MAX_MODULE_LINES, f"{module} has {lines} lines (at most {MAX_MODULE_LINES}): split it by job"
    long = [f"{name}: {length} lines" for name, length in _functions(tree) if length > MAX_FUNCTION_LINES]
    assert not long, f"{module}: functions over {MAX_FUNCTION_LINES} lines: {long}"


@pytest.mark.parametrize(("module", "tree"), [(m, t) for m, t, _ in MODULES], ids=[m for m, _, _ in MODULES])
def test_mlflow_and_bentoml_stay_in_their_places(module: str, tree: ast.Module) -> None:
    imports = list(_imports(tree))
    private = sorted({line for line, name in imports if _is(name, "bentoml._internal")})
    assert not private, f"{module}: private BentoML API (bentoml._internal) at line(s) {private}"
    if not _allowed(module, MLFLOW_ALLOWED):
        mlflow = sorted({line for line, name in imports if _is(name, "mlflow")})
        assert not mlflow, f"{module}: imports mlflow at line(s) {mlflow}; only {MLFLOW_ALLOWED} may (call training.tracking)"
    if module.startswith(("engine/", "training/")) and not _allowed(module, BENTOML_ALLOWED):
        bentoml = sorted({line for line, name in imports if _is(name, "bentoml")})
        assert not bentoml, f"{module}: imports bentoml at line(s) {bentoml}; only {BENTOML_ALLOWED} may"


def test_the_checks_catch_what_they_look_for() -> None:
    """The walkers themselves: a long function, a private BentoML import and mlflow are all found."""
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_FUNCTION_LINES))
    tree = ast.parse(f"import mlflow.tracking\nfrom bentoml._internal.models import ModelStore\n\n@decorator\ndef long():\n{body}\n")
    assert [length for _, length in _functions(tree)] == [MAX_FUNCTION_LINES + 2]
    names = [name for _, name in _imports(tree)]
    assert any(_is(name, "mlflow") for name in names) and any(_is(name, "bentoml._internal") for name in names)
    assert not _is("mlflowish", "mlflow")
    assert _allowed("training/tracking/runs.py", MLFLOW_ALLOWED) and not _allowed("training/tracking_extra.py", MLFLOW_ALLOWED)
