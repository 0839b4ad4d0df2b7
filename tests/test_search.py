"""Random search: the [search] table of a grid file, its seeded draws, and the command's output."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest

from bareprop.cli import main
from bareprop.lab.experiment import load_grid
from bareprop.lab.search import parse_search

SEARCH = """
seeds = 2
[base]
hidden = [16]
epochs = 1
[search]
trials = 5
seed = 7
lr = { log_uniform = [1e-4, 1e-1] }
dropout = { uniform = [0.0, 0.5] }
batch_size = [16, 32, 64]
"""


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_a_search_file_gives_seeded_trials_on_the_base(tmp_path: Path) -> None:
    grid = load_grid(write(tmp_path / "s.toml", SEARCH))
    configs = grid.configs()
    assert [name for name, _ in configs] == [f"trial-{k}" for k in range(1, 6)]
    assert grid.seeds == 2 and all(c.hidden == [16] and c.epochs == 1 for _, c in configs)
    for _, c in configs:
        assert 1e-4 <= c.lr <= 1e-1 and 0.0 <= c.dropout <= 0.5 and c.batch_size in (16, 32, 64)
    again = load_grid(write(tmp_path / "again.toml", SEARCH)).configs()
    assert again == configs  # the same file draws the same trials
    other = load_grid(write(tmp_path / "o.toml", SEARCH.replace("seed = 7", "seed = 8")))
    assert [c.lr for _, c in other.configs()] != [c.lr for _, c in configs]


def test_draws_follow_their_distributions() -> None:
    search = parse_search(
        {
            "trials": 2000,
            "seed": 0,
            "lr": {"log_uniform": [1e-5, 1e-1]},
            "dropout": {"uniform": [0.1, 0.3]},
            "batch_size": {"log_uniform": [16, 256]},
            "activation": {"choice": ["relu", "tanh"]},
        }
    )
    points = search.points()
    log_lr = np.log10([p["lr"] for p in points])
    # Log-uniform: each decade of [1e-5, 1e-1] gets about a quarter of the draws.
    per_decade = np.histogram(log_lr, bins=[-5, -4, -3, -2, -1])[0] / len(points)
    np.testing.assert_allclose(per_decade, 0.25, atol=0.04)
    dropout = np.array([p["dropout"] for p in points])
    assert 0.1 <= dropout.min() and dropout.max() <= 0.3
    assert abs(dropout.mean() - 0.2) < 0.01  # uniform: the mean is the midpoint
    assert all(isinstance(p["batch_size"], int) for p in points)  # an integer option: whole
    assert {p["batch_size"] for p in points} >= {16, 64, 256}
    assert abs(np.mean([p["activation"] == "relu" for p in points]) - 0.5) < 0.05
    # Four significant digits, so a configuration reads as it is written in results.csv.
    assert all(float(f"{p['lr']:.4g}") == p["lr"] for p in points)


def test_search_scales_name_the_x_axes(tmp_path: Path) -> None:
    search = load_grid(write(tmp_path / "s.toml", SEARCH)).search
    assert search is not None
    assert search.scales() == {"lr": "log", "dropout": "linear", "batch_size": "choice"}


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ("trials = 0\nlr = [0.1]", "search.trials must be a positive integer"),
        ("lr = [0.1]", "search.trials must be a positive integer"),
        ("trials = 2\nseed = -1\nlr = [0.1]", "search.seed must be a non-negative integer"),
        ("trials = 2", "names no option to search"),
        ("trials = 2\nlr = { log_uniform = [0, 1] }", "search.lr: log_uniform needs low > 0"),
        ("trials = 2\nlr = { uniform = [1, 0.5] }", "search.lr: uniform needs [low, high]"),
        ("trials = 2\nlr = { normal = [0, 1] }", "search.lr must be a list of values or one of"),
        ("trials = 2\nlr = { choice = [] }", "search.lr: choice needs a non-empty list"),
        ("trials = 2\nlearning_rate = [0.1]", "unknown option(s) learning_rate"),
        ("trials = 2\nlr = { uniform = [-1, 1] }", "lr must be a finite positive number"),  # a draw
    ],
)
def test_bad_search_tables_name_the_file_and_the_key(
    tmp_path: Path, table: str, message: str
) -> None:
    path = write(tmp_path / "bad.toml", f"[base]\nhidden = [8]\n[search]\n{table}\n")
    with pytest.raises(ValueError, match="bad.toml") as info:
        load_grid(path)
    assert message in str(info.value)


def test_grid_and_search_together_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path / "both.toml", "[grid]\nlr = [0.1]\n[search]\ntrials = 2\nlr = [0.1]\n")
    with pytest.raises(ValueError, match="not both"):
        load_grid(path)


def test_a_search_runs_like_a_grid_and_reports_accuracy_against_each_option(
    tiny_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    grid = write(tmp_path / "s.toml", SEARCH.replace("trials = 5", "trials = 3"))
    out = tmp_path / "exp"
    argv = ["experiment", str(grid), "--out", str(out), "--data-dir", str(tiny_data)]
    assert main(argv) == 0
    with open(out / "results.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    drawn = {name: c for name, c in load_grid(grid).configs()}
    assert [(r["config"], r["seed"]) for r in rows] == [
        (f"trial-{k}", s) for k in (1, 2, 3) for s in ("0", "1")
    ]
    for r in rows:  # each row holds the values its trial drew
        c = drawn[r["config"]]
        assert math.isclose(float(r["lr"]), c.lr, rel_tol=1e-12)
        assert (float(r["dropout"]), int(r["batch_size"])) == (c.dropout, c.batch_size)
    md = (out / "results.md").read_text()
    assert md.startswith("# Random search: s.toml")
    assert "## Random search: the 3 best of 3 trials" in md
    assert "| rank | trial | test accuracy (mean) | lr | dropout | batch_size |" in md
    assert (out / "accuracy_vs_hyperparameters.png").stat().st_size > 1000
    report = (out / "report.html").read_text()
    assert "test accuracy against each sampled option" in report
    assert report.count("data:image/png;base64,") == 3
    assert "accuracy_vs_hyperparameters.png" in capsys.readouterr().out.splitlines()[-1]
    # The summary, the ranking and the figure are rebuilt from the folder without training.
    (out / "accuracy_vs_hyperparameters.png").unlink()
    (out / "results.md").unlink()
    assert main(["experiment", str(grid), "--resummarize", str(out)]) == 0
    assert "## Random search: the 3 best of 3 trials" in (out / "results.md").read_text()
    assert (out / "accuracy_vs_hyperparameters.png").exists()


def test_example_search_file_is_valid() -> None:
    grid = load_grid(Path(__file__).resolve().parents[1] / "examples" / "search.toml")
    assert grid.search is not None and len(grid.configs()) == grid.search.trials
