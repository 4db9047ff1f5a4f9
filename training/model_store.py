"""BentoML's model store through its public API only: create a version from a folder, find, list and
delete versions. BentoML's store is the one under ``$BENTOML_HOME``, read once per process, so another
store (``home``: tests, benches, a second service) is reached the way BentoML documents: the operation
runs in a child process with ``BENTOML_HOME`` set to it and answers in JSON
(``python -m training.model_store REQUEST``). This module imports nothing heavy, so the child starts fast.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from engine.errors import EngineError

# one stored version: tag, folder, metadata
Stored = tuple[str, str, dict[str, Any]]


def create(name: str, directory: Path, metadata: dict[str, Any], home: Path | None = None) -> str:
    """Copy ``directory`` into the store as a new version of ``name``; returns its tag."""
    if home is not None:
        return str(_in_home(home, "create", name=name, directory=str(directory), metadata=metadata))
    import bentoml

    with bentoml.models.create(name, metadata=metadata) as model:
        shutil.copytree(directory, model.path, dirs_exist_ok=True)
    return str(model.tag)


def folder(tag: str, home: Path | None = None) -> Path:
    """The folder of a stored version."""
    if home is not None:
        return Path(_in_home(home, "folder", tag=tag))
    import bentoml

    return Path(bentoml.models.get(tag).path)


def versions(name: str, home: Path | None = None) -> list[Stored]:
    """Every stored version of ``name``, newest first (none when there is no such model)."""
    if home is not None:
        return [(tag, path, metadata) for tag, path, metadata in _in_home(home, "versions", name=name)]
    import bentoml
    from bentoml.exceptions import NotFound

    try:
        found = bentoml.models.list(name)
    except NotFound:
        return []
    newest_first = sorted(found, key=lambda model: model.info.creation_time, reverse=True)
    return [(str(model.tag), str(model.path), dict(model.info.metadata)) for model in newest_first]


def delete(tags: list[str], home: Path | None = None) -> None:
    """Delete stored versions."""
    if home is not None:
        _in_home(home, "delete", tags=tags)
        return
    import bentoml

    for tag in tags:
        bentoml.models.delete(tag)


_OPERATIONS = {"create": create, "folder": folder, "versions": versions, "delete": delete}


def _in_home(home: Path, operation: str, **arguments: Any) -> Any:
    """Run ``operation`` on the model store under ``home`` in a child process and return its answer."""
    environment = {**os.environ, "BENTOML_HOME": str(Path(home).expanduser().resolve())}
    request = json.dumps({"operation": operation, **arguments})
    done = subprocess.run([sys.executable, "-m", "training.model_store", request], env=environment,
                          capture_output=True, text=True, check=False)
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        reason = (done.stderr.strip().splitlines() or ["no answer"])[-1]
        raise EngineError(f"BentoML model store at {home}: {operation} failed ({reason})")
    return json.loads(lines[-1])["value"]


def _answer(request: dict[str, Any]) -> Any:
    """One operation on this process's store, JSON-ready (paths as text)."""
    arguments = dict(request)
    operation = _OPERATIONS[arguments.pop("operation")]
    if "directory" in arguments:
        arguments["directory"] = Path(arguments["directory"])
    value = operation(**arguments)
    return str(value) if isinstance(value, Path) else value


if __name__ == "__main__":
    print(json.dumps({"value": _answer(json.loads(sys.argv[1]))}))
