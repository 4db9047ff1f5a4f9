"""``--engine local|spark``, ``--spark-master`` and ``--spark-remote``: the options that choose where a
command's heavy verbs run (:mod:`engine.backend`), declared once and added by :func:`takes_engine`.

The same options come from the environment (``CRM_ENGINE``, ``CRM_SPARK_MASTER``, ``CRM_SPARK_REMOTE``),
so a deployment chooses Spark once instead of on every command line.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import Enum
from typing import Annotated, Any

import typer

from engine.backend import use_backend
from training.commands.data import with_options
from training.console import console


class Engine(str, Enum):  # noqa: UP042 - typer lists the choices of a str Enum
    """The engines a command can run on (typer lists and checks them)."""

    local = "local"
    spark = "spark"


EngineOption = Annotated[
    Engine,
    typer.Option(
        "--engine", envvar="CRM_ENGINE",
        help="Where aggregation, ALS and per-product fits run: local (this process) or spark (extra crm-engine\\[spark]).",
    ),
]
MasterOption = Annotated[
    str, typer.Option("--spark-master", envvar="CRM_SPARK_MASTER", help="Spark master with --engine spark, e.g. local[2].")
]
RemoteOption = Annotated[
    str | None,
    typer.Option("--spark-remote", envvar="CRM_SPARK_REMOTE", help="Spark Connect URL (sc://host:15002); overrides --spark-master."),
]


@contextmanager
def engine_backend(engine: Engine, master: str = "local[2]", remote: str | None = None) -> Iterator[None]:
    """Run the block on the chosen engine: nothing to set up for ``local``; a Spark session (stopped
    after the block) for ``spark``."""
    if engine == Engine.local:
        yield
        return
    from engine.backend.spark.backend import SparkBackend
    from engine.backend.spark.session import SparkSettings, spark_session

    spark = spark_session(SparkSettings(master=master, remote=remote))
    console.print(f"engine: spark ({remote or master}, Spark {spark.version})")
    try:
        with use_backend(SparkBackend(spark)):
            yield
    finally:
        spark.stop()


def takes_engine(command: Callable) -> Callable:
    """Give a command ``--engine``, ``--spark-master`` and ``--spark-remote`` and run it on that engine."""
    shared = {"engine": (EngineOption, Engine.local), "spark_master": (MasterOption, "local[2]"), "spark_remote": (RemoteOption, None)}

    def run(command: Callable, options: dict[str, Any]) -> Any:
        chosen = options.pop("shared")
        with engine_backend(chosen["engine"], chosen["spark_master"], chosen["spark_remote"]):
            return command(**options)

    return with_options(command, shared, run)
