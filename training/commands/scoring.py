"""``crm score``: every customer's churn probability, risk band, expected CLV, value at risk and top-N
recommendations, written to a Parquet folder, locally or on Spark (``--engine``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from training.commands.data import DataArgs, takes_data
from training.commands.engine_options import takes_engine
from training.console import console, step


@takes_data()
@takes_engine
def score(
    source: DataArgs,
    churn_model: Annotated[Path, typer.Option("--churn-model", exists=True, file_okay=False, help="The churn model folder (crm train churn --out X: X/model).")],
    clv_model: Annotated[Path, typer.Option("--clv-model", exists=True, file_okay=False, help="The CLV model folder (crm train clv --out X: X/model).")],
    out: Annotated[Path, typer.Option("--out", help="Parquet folder to write (replaced): one part file per chunk of customers.")],
    recommender_model: Annotated[Path | None, typer.Option("--recommender-model", exists=True, file_okay=False, help="A recommender model folder (crm train recommender --out X: X/model) for the top-N lists; none: no lists.")] = None,
    top_n: Annotated[int, typer.Option("--top-n", min=1, help="Items per customer in the top-N list.")] = 10,
    as_of: Annotated[str | None, typer.Option("--as-of", help="Score as of this date (default: the day after the last line).")] = None,
    churn_config: Annotated[Path | None, typer.Option("--churn-config", help="YAML like configs/churn.yaml (risk bands).")] = None,
) -> None:
    """Score every customer with a purchase before the as-of date: the features and expected CLV are
    computed from the transactions (on the chosen engine's aggregates), then churn scores and top-N
    lists chunk by chunk (locally) or per partition with mapInPandas (Spark), into Parquet."""
    import pandas as pd

    from engine.backend import active_backend
    from engine.customers.aftersales import AfterSales
    from engine.customers.churn_gbm import ChurnClassifier
    from engine.customers.clv import ClvModel
    from engine.customers.scoring import EXPECTED_CLV, features_and_clv
    from engine.customers.view import default_as_of
    from training.config import load_config
    from training.customers import ChurnConfig

    bands = load_config(churn_config, ChurnConfig).risk_bands
    churn, clv = ChurnClassifier.load(churn_model), ClvModel.load(clv_model)
    shop = source.load()
    moment = pd.Timestamp(as_of) if as_of else default_as_of(shop.transactions)
    with step(f"features and expected CLV of every customer as of {moment.date()}"):
        features, value = features_and_clv(shop.transactions, churn, clv, moment, shop.products, AfterSales.of(shop))
    # the high band's size is a property of the whole population, which no chunk sees alone
    probability = churn.predict_proba(features)
    bands = bands.for_population(probability)
    backend = active_backend()
    with step(f"scoring {len(features):,} customers ({backend.name}) into {out}"):
        written = backend.score_to_parquet(features.assign(**{EXPECTED_CLV: value}), churn_model, out,
                                           recommender_model, top_n, bands)
    if bands.high_as_medium:
        console.print(f"[yellow]{bands.merged_note(int((probability >= bands.high).sum()))}")
    console.print(f"wrote {written:,} customers to {out}")
