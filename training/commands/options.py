"""Command-line options that several ``crm`` commands share, declared once."""

from __future__ import annotations

from typing import Annotated

import typer

TrackingOption = Annotated[
    str | None, typer.Option("--tracking-uri", help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI or sqlite:///mlflow.db)")
]
