"""Which elasticity estimator to trust, chosen on evidence a shop has without knowing the truth.

A forecast score cannot make this choice alone: an estimator that lets promotion-timed demand into its
price slope forecasts the holdout weeks about as well as one that controls for it (the promotions
recur), yet its elasticities are off by a quarter on the development designs. The choice instead asks
each estimator whether its category elasticities agree with a *reference* that is consistent under
weaker assumptions, a Durbin-Wu-Hausman comparison:

- Per category, the reference is DML-IV where its instrument is strong there (first-stage F at least
  ``min_first_stage_f``); elsewhere the fixed-effects model with the shop's promotion, display and mailer
  flags and category-week effects as controls (every confounder the data records); failing that, the
  first of ``CREDIBILITY`` that was fitted.
- The estimators are ranked per category by what they control: DML-IV (where strong), fixed effects,
  DML and DML-IV without a strong instrument (the same slope), naive, monotone GBM. A candidate is compared
  with every *trusted* estimator ranked above it in each category: the reference, and the candidates
  already found to pass (so DML, as precise as fixed effects, must agree with fixed effects too, not only
  with a noisy IV). Each comparison, per category:
  ``z = (mean_candidate - mean_reference) / sqrt(se_candidate^2 + se_reference^2)`` (the sum of the
  variances: the estimators are not nested, so the textbook difference of variances does not apply, and
  the sum errs towards keeping a candidate). Two tests, each at ``alpha / 2``: ``sum z^2`` against a
  chi-square with as many degrees of freedom as categories compared (a category that disagrees), and
  ``sum z / sqrt(k)`` against a normal (a shift shared by all categories, which is what an uncontrolled
  confounder such as promotion timing does; on the development design with a spread of 0.6 the
  chi-square alone missed a shift of 0.26). It passes when no test against any trusted estimator rejects.
- Of the candidates that pass, the most precise (smallest median standard error of its own product
  estimates) is chosen: where the instrument is strong and price exogeneity is not rejected, the
  fixed-effects slope is kept for its precision; where it is rejected, DML-IV wins. The holdout forecast
  WMAPE only breaks ties between passing candidates whose precision is within ``tolerance`` of the best.
- If no candidate passes, the one that disagrees least with the reference (largest p-value).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from engine.data.columns import Columns
from engine.errors import EngineError
from engine.pricing.base import ElasticityEstimator
from engine.pricing.shrinkage import RAW_ELASTICITY, RAW_SE

IV = "dml_iv"
CREDIBILITY = ("fixed_effects", "dml", "naive", "monotone_gbm")  # the reference where no strong instrument is
FORECAST = "forecast_wmape"


@dataclass(frozen=True)
class Choice:
    """The chosen estimator, a sentence saying why, and the evidence: per candidate its test against the
    reference (``candidates``: statistic, df, shift_z, p_value, passes, median_se, forecast_wmape) and per category
    the reference used (``categories``: reference, first_stage_f, and each candidate's z)."""

    chosen: str
    why: str
    candidates: pd.DataFrame
    categories: pd.DataFrame


def references(
    estimators: dict[str, ElasticityEstimator], first_stage_f: pd.Series | None, min_first_stage_f: float
) -> pd.Series:
    """Per category, the name of the estimator its candidates are tested against."""
    fallback = next((name for name in CREDIBILITY if name in estimators), None)
    if fallback is None and IV not in estimators:
        raise EngineError(f"no reference estimator among the fitted {sorted(estimators)}")
    categories = sorted({c for est in estimators.values() for c in est.categories_.index})
    strong = pd.Series(False, index=pd.Index(categories))
    if IV in estimators and first_stage_f is not None:
        strong = (first_stage_f.reindex(strong.index) >= min_first_stage_f).fillna(False)
    reference = pd.Series(np.where(strong.to_numpy(), IV, fallback or IV), index=strong.index, dtype=object)
    return reference.rename("reference")


RANK = {IV: 0, "fixed_effects": 1, "dml": 2, "naive": 3, "monotone_gbm": 4}
WEAK_IV_RANK = RANK["dml"]  # without a strong instrument DML-IV's slope is DML's


def rank(name: str, category_reference: str) -> int:
    """The place of estimator ``name`` in a category whose reference is ``category_reference``."""
    return WEAK_IV_RANK if name == IV and category_reference != IV else RANK.get(name, len(RANK))


def product_z(candidate: ElasticityEstimator, partner: ElasticityEstimator, categories: pd.Index) -> pd.Series:
    """Per product of ``categories`` estimated by both, z of the candidate's own (unpooled) estimate
    against the partner's. Comparing a product with itself cancels the spread of true elasticities
    between products, which makes a comparison of category means weak when that spread is wide."""
    mine, theirs = candidate.elasticity_table(), partner.elasticity_table()
    both = mine.index.intersection(theirs.index)
    both = both[mine.loc[both, Columns.category].isin(categories).to_numpy()]
    difference = mine.loc[both, RAW_ELASTICITY] - theirs.loc[both, RAW_ELASTICITY]
    return (difference / np.sqrt(mine.loc[both, RAW_SE] ** 2 + theirs.loc[both, RAW_SE] ** 2)).dropna()


def agreement_p_value(z: pd.Series) -> tuple[float, float, float]:
    """Chi-square statistic, shift z and the Bonferroni p-value of the two tests (1 without categories)."""
    if z.empty:
        return 0.0, 0.0, 1.0
    statistic = float(np.sum(z**2))
    shift = float(z.sum() / np.sqrt(len(z)))
    p_spread = float(stats.chi2.sf(statistic, len(z)))
    return statistic, shift, min(1.0, 2 * min(p_spread, float(2 * stats.norm.sf(abs(shift)))))


def _test_candidates(
    estimators: dict[str, ElasticityEstimator], names: list[str], reference: pd.Series, categories: pd.DataFrame,
    scores: pd.DataFrame | None, alpha: float,
) -> pd.DataFrame:
    """Per candidate (in order of rank), its worst test against the trusted estimators ranked above it;
    the mean z per category of each comparison is written into ``categories``."""
    rows, trusted = {}, set()
    for name in sorted(names, key=lambda n: RANK.get(n, len(RANK))):
        worst = (0.0, 0.0, 1.0, len(reference.index[reference != name]))
        for partner in sorted(estimators, key=lambda n: RANK.get(n, len(RANK))):
            # categories where the partner is the reference, or trusted and ranked above the candidate
            where = [
                c for c, ref in reference.items()
                if partner != name and (partner == ref or (partner in trusted and rank(partner, ref) < rank(name, ref)))
            ]
            z = product_z(estimators[name], estimators[partner], pd.Index(where))
            if z.empty:
                continue
            categories.loc[where, f"z_{name}_vs_{partner}"] = z.groupby(estimators[name].elasticity_table().loc[z.index, Columns.category]).mean()
            result = agreement_p_value(z)
            if result[2] < worst[2]:
                worst = (*result, len(z))
        statistic, shift, p_value, compared = worst
        if p_value >= alpha:
            trusted.add(name)
        forecast = np.nan if scores is None or name not in scores.index else float(scores.at[name, FORECAST])
        rows[name] = {
            "statistic": statistic, "df": compared, "shift_z": shift, "p_value": p_value, "passes": p_value >= alpha,
            "median_se": float(estimators[name].elasticity_table()[RAW_SE].median()), FORECAST: forecast,
        }
    return pd.DataFrame.from_dict(rows, orient="index")


def choose_by_evidence(
    estimators: dict[str, ElasticityEstimator],
    candidates: Sequence[str],
    scores: pd.DataFrame | None = None,
    first_stage_f: pd.Series | None = None,
    min_first_stage_f: float = 10.0,
    alpha: float = 0.05,
    tolerance: float = 0.03,
) -> Choice:
    """Choose among the fitted ``candidates`` as the module docstring says; ``scores`` (index: estimator
    names) gives the holdout forecast WMAPE used to break ties."""
    names = [name for name in candidates if name in estimators]
    if not names:
        raise EngineError(f"no fitted estimator {sorted(estimators)} is among the candidates {candidates}")
    reference = references(estimators, first_stage_f, min_first_stage_f)
    categories = pd.DataFrame({"reference": reference})
    if first_stage_f is not None:
        categories["first_stage_f"] = first_stage_f.reindex(reference.index)
    table = _test_candidates(estimators, names, reference, categories, scores, alpha)
    passing = table.loc[table["passes"]]
    if passing.empty:
        chosen = str(table["p_value"].idxmax())
        lead = f"{chosen}: no candidate agrees with the reference at p >= {alpha:g}; the closest (p {table.at[chosen, 'p_value']:.3g})"
    else:
        near = passing.loc[passing["median_se"] <= passing["median_se"].min() * (1 + tolerance)]
        chosen = str(near[FORECAST].idxmin()) if near[FORECAST].notna().all() and len(near) > 1 else str(near["median_se"].idxmin())
        lead = (
            f"{chosen}: the most precise estimator (median se {table.at[chosen, 'median_se']:.3f}) whose category elasticities "
            f"agree with the reference (chi2 {table.at[chosen, 'statistic']:.1f}, df {table.at[chosen, 'df']}, "
            f"shift z {table.at[chosen, 'shift_z']:.2f}, p {table.at[chosen, 'p_value']:.3g})"
        )
        if len(near) > 1:
            lead += f"; holdout {FORECAST} broke the tie with {sorted(set(near.index) - {chosen})}"
    counts = reference.value_counts()
    basis = ", ".join(f"{name} in {count} categor{'y' if count == 1 else 'ies'}" for name, count in counts.items())
    strength = f" (instrument strong where F >= {min_first_stage_f:g})" if IV in counts else ""
    others = "; ".join(
        f"{name} {'passes' if row['passes'] else 'rejected'} (p {row['p_value']:.3g}, se {row['median_se']:.3f})"
        for name, row in table.iterrows() if name != chosen
    )
    why = f"{lead}; reference: {basis}{strength}" + (f"; others: {others}" if others else "")
    return Choice(chosen, why, table, categories)
