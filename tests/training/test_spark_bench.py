"""The engines bench: each stage's command per engine, and the Spark / local ratios (no Spark started)."""

from __future__ import annotations

from pathlib import Path

from training import spark_bench
from training.bench_scale import Run
from training.replicate import ReplicatedShop


def test_each_engine_runs_the_stage_command_and_ratios_are_spark_over_local(tmp_path, monkeypatch):
    shop = ReplicatedShop(copies=1, data=Path("d.yaml"), pricing_data=Path("p.yaml"), lines=10)
    commands: list[list[str]] = []

    def fake_run(argv, log, min_available_gb=0.0, env=None):
        commands.append(argv)
        spark = "spark" in argv[argv.index("--engine") + 1]
        failed = spark and "churn" in argv
        return Run(wall_s=30.0 if spark else 10.0, peak_mb=1.0, returncode=1 if failed else 0, cpu_s=8.0 if spark else 4.0, load_1m=2.0)

    monkeypatch.setattr(spark_bench, "run_timed", fake_run)
    section = spark_bench.spark_section({1: shop}, ("train_pricing", "train_churn"), workdir=tmp_path, progress=lambda _: None)

    pricing = [c for c in commands if "pricing" in c]
    assert len(pricing) == 2 and all(c[c.index("--data") + 1] == "p.yaml" for c in pricing)  # promotions read
    assert section["ratio_to_local"]["train_pricing"] == [3.0] and section["cpu_ratio_to_local"]["train_pricing"] == [2.0]
    assert section["ratio_to_local"]["train_churn"] == [None] and "exit code 1" in section["stages"]["train_churn"]["failed"]["1"]
    assert section["local"]["stages"]["train_churn"]["wall_s"] == [10.0]
