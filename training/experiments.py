"""``crm experiment``: read an online experiment's events, analyse them with the decision rule, and
promote or roll back the challenger by moving registry aliases (never by editing files).

The champion is the version holding the ``champion`` alias, the challenger the one holding
``challenger``. Promote: ``champion`` moves to the challenger's version and ``challenger`` is removed.
Rollback: ``challenger`` is removed, so the champion serves everyone again. Each refuses when the
rule's decision is not its own, unless forced with a reason; the decision, the figures, the reason and
whether it was forced are recorded as tags on the versions involved.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import yaml

from engine.errors import EngineError
from engine.feedback.assignment import CHALLENGER
from engine.feedback.experiments import DecisionRule, ExperimentReport, analyse
from engine.feedback.store import load_events
from training import tracking

DEFAULT_RULE = Path(__file__).resolve().parent.parent / "configs" / "experiment.yaml"


def load_rule(path: str | Path | None = None) -> DecisionRule:
    """The decision rule from YAML (default: ``configs/experiment.yaml``)."""
    path = Path(path) if path is not None else DEFAULT_RULE
    if not path.is_file():
        raise EngineError(f"experiment config {path} does not exist")
    return DecisionRule.model_validate(yaml.safe_load(path.read_text()) or {})


@dataclass(frozen=True)
class AliasChange:
    """What ``promote`` / ``rollback`` did in the registry."""

    action: str
    model_name: str
    champion: str | None
    challenger: str
    forced: bool
    reason: str


def _challenger_version(model_name: str) -> str:
    version = tracking.champion_version(model_name, CHALLENGER)
    if version is None:
        raise EngineError(f"{model_name} has no version under the alias {CHALLENGER!r}: no experiment is running")
    return version


def _check_allowed(action: str, report: ExperimentReport, force: bool, reason: str | None) -> None:
    if report.decision == action:
        return
    if not force:
        raise EngineError(
            f"refused to {action}: the decision rule says {report.decision!r} ({report.reason}); "
            f"use --force with --reason to override"
        )
    if not reason or not reason.strip():
        raise EngineError(f"--force needs a --reason, recorded in the registry beside the {action}")


def _tags(action: str, report: ExperimentReport, forced: bool, reason: str | None) -> dict[str, str]:
    return {
        "experiment.action": action,
        "experiment.decision": report.decision,
        "experiment.rule_reason": report.reason,
        "experiment.forced": str(forced),
        "experiment.override_reason": reason or "",
        "experiment.figures": json.dumps(report.as_dict()["comparisons"], default=float)[:5000],
    }


def promote(model_name: str, report: ExperimentReport, force: bool = False, reason: str | None = None) -> AliasChange:
    """Move ``champion`` to the challenger's version (only if the rule says promote, or forced)."""
    challenger = _challenger_version(model_name)
    _check_allowed("promote", report, force, reason)
    previous = tracking.champion_version(model_name)
    forced = report.decision != "promote"
    tags = {**_tags("promote", report, forced, reason), "experiment.previous_champion": previous or ""}
    tracking.move_alias(model_name, tracking.CHAMPION, challenger, tags)
    tracking.remove_alias(model_name, CHALLENGER)
    return AliasChange("promote", model_name, previous, challenger, forced, reason or report.reason)


def rollback(model_name: str, report: ExperimentReport, force: bool = False, reason: str | None = None) -> AliasChange:
    """Remove the ``challenger`` alias, so the champion serves everyone (only if the rule says roll
    back, or forced)."""
    challenger = _challenger_version(model_name)
    _check_allowed("rollback", report, force, reason)
    forced = report.decision != "rollback"
    tracking.remove_alias(model_name, CHALLENGER, _tags("rollback", report, forced, reason))
    return AliasChange("rollback", model_name, tracking.champion_version(model_name), challenger, forced, reason or report.reason)


def report_from_file(events: str | Path, rule: str | Path | None = None) -> ExperimentReport:
    """Read an events file and analyse it with the rule of ``rule`` (a YAML path)."""
    return analyse(load_events(events), load_rule(rule))
