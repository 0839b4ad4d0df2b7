"""``bareprop bench`` machinery on a tiny configuration: structure only, never a time."""

from __future__ import annotations

import math

import pytest

from bareprop.bench import BenchConfig, run_bench
from bareprop.bench.report import (
    COLUMNS,
    parts_rows,
    predict_rows,
    targets,
    to_markdown,
    training_rows,
)
from bareprop.bench.worker import run_job
from bareprop.cli import main

TINY = BenchConfig("tiny", "sgd", 0.01, 32, hidden=(16,))


def test_bench_runs_each_contender_in_its_own_process_and_tabulates() -> None:
    seen: list[str] = []
    result = run_bench([TINY], rounds=2, steps=2, tasks=("bareprop", "gemms"), predict_repeats=0,
                       n_train=256, synthetic=True, on_progress=seen.append)  # fmt: skip
    assert seen[:4] == [
        "round 1/2: bareprop on tiny", "round 1/2: gemms on tiny",
        "round 2/2: gemms on tiny", "round 2/2: bareprop on tiny",  # rotated: interleaved
    ]  # fmt: skip
    for series in result.series:
        assert len(series.values) == 2 and all(v > 0 and math.isfinite(v) for v in series.values)
    rows = training_rows(result)
    assert [r["contender"] for r in rows] == ["bareprop.fit", "GEMMs alone"]
    assert all(tuple(r) == COLUMNS for r in rows)
    assert rows[1]["vs GEMMs"] == "1.00x" and rows[0]["vs PyTorch"] == "-x"  # no torch row
    parts = {r["part"] for r in parts_rows(result)}
    assert {
        "batch",
        "Linear forward",
        "Linear+ReLU backward",
        "loss",
        "optimizer",
        "sum of the parts",
    } <= parts
    assert any(line.startswith("tiny: bareprop epoch / GEMMs-alone") for line in targets(result))
    markdown = to_markdown(result)
    assert markdown.startswith("| " + " | ".join(COLUMNS) + " |")
    assert "2 rounds, interleaved" in markdown


@pytest.mark.torch
def test_torch_and_prediction_contenders_report_seconds() -> None:
    pytest.importorskip("torch")
    job = {"config": TINY.to_dict(), "steps": 2, "threads": 1, "n_train": 128, "synthetic": True}
    for task in ("torch", "bareprop-predict", "torch-predict"):
        answer = run_job({**job, "task": task})
        assert answer["steps"] == 2 and answer["seconds"] > 0


def test_prediction_rows_compare_with_torch() -> None:
    from bareprop.bench import BenchResult, Series

    result = BenchResult(
        [Series("bareprop-predict", TINY, [0.5, 0.25, 0.75]), Series("torch-predict", TINY, [1.0])],
        parts={}, meta={},
    )  # fmt: skip
    rows = predict_rows(result)
    assert rows[0]["s per 10k"] == "0.5000" and rows[0]["vs PyTorch"] == "2.00x"
    assert rows[0]["min-max"] == "0.2500-0.7500"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["bench", "--only", "keras"], "unknown trainer(s) keras"),
        (["bench", "--rounds", "0"], "--rounds must be a positive integer"),
        (["bench", "--steps", "-1"], "--steps must be a positive integer"),
    ],
)
def test_bench_cli_rejects_bad_options(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_rows_give_best_rounds_beside_medians_and_busy_rounds_are_flagged() -> None:
    from rich.console import Console

    from bareprop.bench import BenchResult, Series
    from bareprop.bench.report import print_tables, warnings

    result = BenchResult(
        [Series("bareprop", TINY, [1.0, 1.0, 2.0]), Series("torch", TINY, [2.0, 2.0, 2.0])],
        parts={}, meta={"cpu": "x", "cores": 2, "threads": 2, "python": "3.11", "rounds": 3},
    )  # fmt: skip
    row = training_rows(result)[0]
    assert row["vs PyTorch"] == "2.00x" and row["best rounds"] == "2.00x"
    assert warnings(result) == [
        "warning: the rounds of bareprop.fit on tiny disagree by 100%: the machine was busy; "
        "trust the best rounds' ratio"
    ]
    console = Console(record=True, width=200)
    print_tables(result, console)
    shown = console.export_text()
    assert "disagree by 100%" in shown and "target" not in shown  # targets: BENCHMARKS.md only
