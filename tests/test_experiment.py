"""Experiments: grid files, results files, presets, and the notebooks' semantics checked
against direct transcriptions of the notebooks' own code."""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from rich.console import Console

from bareprop.cli import main
from bareprop.lab import best_mlp, presets
from bareprop.lab import notebooks as nb
from bareprop.lab.experiment import load_grid, run_metrics
from bareprop.lab.notebook004 import _nb004_model
from bareprop.show.experiment_progress import ExperimentProgress
from bareprop.train.fit import evaluate


def tiny_images(n_train: int = 96, n_test: int = 40, seed: int = 0) -> nb.Images:
    """A learnable MNIST-shaped problem: a bright bar whose row is the class."""
    rng = np.random.default_rng(seed)
    images, labels = [], []
    for n in (n_train, n_test):
        y = rng.integers(0, 10, n)
        x = rng.integers(0, 60, (n, 28, 28)).astype(np.uint8)
        for i, label in enumerate(y):
            x[i, 2 + 2 * label : 4 + 2 * label, 4:24] = 255
        images.append(x.reshape(n, 784))
        labels.append(y.astype(np.int64))
    return nb.Images(images[0], labels[0], images[1], labels[1])


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-z))


# --- grid files ------------------------------------------------------------------------------


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_grid_is_the_cartesian_product(tmp_path: Path) -> None:
    grid = load_grid(
        write(
            tmp_path / "g.toml",
            """
seeds = 2
[base]
hidden = [16]
epochs = 1
[grid]
activation = ["relu", "tanh"]
lr = [0.001, 0.01, 0.1]
""",
        )
    )
    configs = grid.configs()
    assert grid.seeds == 2
    assert len(configs) == 6
    assert configs[0][0] == "activation=relu,lr=0.001"
    assert {(c.activation, c.lr) for _, c in configs} == {
        (a, r) for a in ("relu", "tanh") for r in (0.001, 0.01, 0.1)
    }
    assert all(c.hidden == [16] and c.epochs == 1 for _, c in configs)


def test_example_grid_file_is_valid() -> None:
    grid = load_grid(Path(__file__).resolve().parents[1] / "examples" / "activations.toml")
    assert len(grid.configs()) == 6 and grid.seeds == 3 and grid.target == 0.975


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[base]\nhiden = [3]\n", "unknown option(s) hiden"),
        ("[grid]\nlr = 0.1\n", "grid.lr must be a non-empty list"),
        ("[grid]\nactivation = ['relu', 'swish']\n", "activation must be one of"),
        ("[base\n", "not valid TOML"),
        ("sweep = 1\n", "unknown top-level key(s) sweep"),
    ],
)
def test_bad_grid_files_name_the_file_and_the_problem(
    tmp_path: Path, text: str, message: str
) -> None:
    path = write(tmp_path / "bad.toml", text)
    with pytest.raises(ValueError, match="bad.toml") as info:
        load_grid(path)
    assert message in str(info.value)


def test_run_metrics_best_epoch_and_time_to_target() -> None:
    history = {"test_accuracy": [0.5, 0.9, 0.97, 0.96], "seconds": [1.0, 2.0, 3.0, 2.0]}
    m = run_metrics(history, target=0.95)
    assert m["test_accuracy"] == 0.96
    assert (m["best_test_accuracy"], m["best_epoch"]) == (0.97, 3)
    assert m["seconds_per_epoch"] == 2.0
    assert m["seconds_to_target"] == 6.0
    assert run_metrics(history, target=0.99)["seconds_to_target"] is None


# --- the command ------------------------------------------------------------------------------


def read_rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_experiment_grid_end_to_end(
    tiny_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    grid = write(
        tmp_path / "g.toml",
        """
[base]
hidden = [16]
epochs = 2
batch_size = 32
[grid]
activation = ["relu", "tanh"]
""",
    )
    out = tmp_path / "exp"
    assert (
        main(
            [
                "experiment",
                str(grid),
                "--seeds",
                "2",
                "--out",
                str(out),
                "--data-dir",
                str(tiny_data),
                "--target",
                "0.5",
            ]
        )
        == 0
    )
    rows = read_rows(out / "results.csv")
    assert [(r["config"], r["seed"]) for r in rows] == [
        ("activation=relu", "0"),
        ("activation=relu", "1"),
        ("activation=tanh", "0"),
        ("activation=tanh", "1"),
    ]
    for r in rows:
        assert 0.0 <= float(r["test_accuracy"]) <= 1.0
        assert float(r["best_test_accuracy"]) >= float(r["test_accuracy"])
        assert float(r["seconds_per_epoch"]) > 0
        assert (
            r["hidden"] == "16" and r["epochs"] == "2" and r["optimizer"] == "adam"
        )  # every option
    assert (
        rows[0]["test_accuracy"] != rows[1]["test_accuracy"] or rows[0]["seed"] != rows[1]["seed"]
    )
    md = (out / "results.md").read_text()
    assert "| activation=relu | 2 |" in md and "| activation=tanh | 2 |" in md
    printed = capsys.readouterr().out
    assert "activation=tanh" in printed
    # The last line names every file written (and only those), and the run folders.
    wrote = printed.splitlines()[-1]
    assert wrote.startswith(f"wrote {out}/: ")
    named = wrote.split(": ", 1)[1].split(", ")
    assert named[-1] == "runs/<config>/seed-<k>/run.json"
    assert sorted(named[:-1]) == sorted(p.name for p in out.iterdir() if p.is_file())
    assert len(named[:-1]) == 7
    run_json = json.loads((out / "runs" / "activation=tanh" / "seed-1" / "run.json").read_text())
    assert (run_json["config"], run_json["seed"], run_json["options"]["hidden"]) == (
        "activation=tanh",
        1,
        [16],
    )
    assert f"{run_json['history']['test_accuracy'][-1]:.6g}" == rows[3]["test_accuracy"]
    report = (out / "report.html").read_text()
    assert report.count("data:image/png;base64,") == 2 and "activation=relu seed 1" in report
    # The summary and report can be rebuilt from the folder without training.
    (out / "results.md").unlink()
    assert main(["experiment", str(grid), "--resummarize", str(out)]) == 0
    assert "| activation=relu | 2 |" in (out / "results.md").read_text()


def test_parallel_runs_give_the_same_results(tiny_data: Path, tmp_path: Path) -> None:
    grid = write(
        tmp_path / "g.toml", "[base]\nhidden = [8]\nepochs = 1\n[grid]\nlr = [0.001, 0.01]\n"
    )
    accuracies = []
    for jobs in ("1", "2"):
        out = tmp_path / f"jobs{jobs}"
        argv = ["experiment", str(grid), "--seeds", "2", "--jobs", jobs, "--out", str(out)]
        assert main([*argv, "--data-dir", str(tiny_data)]) == 0
        rows = read_rows(out / "results.csv")
        accuracies.append([(r["config"], r["seed"], r["test_accuracy"]) for r in rows])
    assert accuracies[0] == accuracies[1] and len(accuracies[0]) == 4


def test_progress_is_live_on_a_terminal_and_absent_from_a_pipe(
    tiny_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    grid = write(tmp_path / "g.toml", "[base]\nhidden = [8]\nepochs = 1\n")
    argv = ["experiment", str(grid), "--out", str(tmp_path / "exp"), "--data-dir", str(tiny_data)]
    assert main(argv) == 0
    lines = capsys.readouterr().out.splitlines()
    # Not a terminal: one log line per finished run, then the table; no leftover progress bar.
    assert lines[0].startswith("run 1/1: base seed 0: test ")
    assert "test accuracy over seeds" in lines[1]
    console = Console(file=io.StringIO(), force_terminal=True, force_interactive=True, width=100)
    display = ExperimentProgress(2, console=console)
    display.start(0, 1, SimpleNamespace(config="base"), 0)
    display.epoch()
    display.close()
    drawn = console.file.getvalue()
    assert "run 1/1: base seed 0" in drawn and "epochs 1/2" in drawn


def test_a_long_run_says_where_it_is_in_a_pipe() -> None:
    """No live bar in a pipe or a log file, but a line at an epoch's end every ``log_every``
    seconds (30 by default; 0 here: every epoch)."""
    console = Console(file=io.StringIO(), force_terminal=False, width=100)
    display = ExperimentProgress(4, console=console, log_every=0)
    display.start(0, 2, SimpleNamespace(config="cnn-bn"), 0)
    display.epoch()
    display.epoch()
    display.start(1, 2, SimpleNamespace(config="cnn-bn"), 1)
    display.epoch()
    display.close()
    lines = console.file.getvalue().splitlines()
    assert [line.split(", elapsed")[0] for line in lines] == [
        "run 1/2: cnn-bn seed 0: epoch 1 done; 1/4 epochs in all",
        "run 1/2: cnn-bn seed 0: epoch 2 done; 2/4 epochs in all",
        "run 2/2: cnn-bn seed 1: epoch 1 done; 3/4 epochs in all",
    ]
    assert all(" min, ETA " in line for line in lines)
    quiet = Console(file=io.StringIO(), force_terminal=False)
    display = ExperimentProgress(4, console=quiet)  # the default: a line every 30 s at most
    display.start(0, 1, SimpleNamespace(config="base"), 0)
    display.epoch()
    display.close()
    assert quiet.file.getvalue() == ""


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["experiment"], "either a GRID.toml file or --preset"),
        (["experiment", "--preset", "notebooks", "--seeds", "0"], "--seeds must be at least 1"),
        (["experiment", "--preset", "notebooks", "--only", "nb999"], "matches no configuration"),
        (["experiment", "/nonexistent.toml"], "/nonexistent.toml"),
    ],
)
def test_experiment_user_errors(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err


def test_notebooks_preset_rows(tiny_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "nbs"
    argv = [
        "experiment",
        "--preset",
        "notebooks",
        "--only",
        "nb000",
        "nb004-6",
        "nb001-sound",
        "--epochs-scale",
        "0.1",
        "--data-dir",
        str(tiny_data),
        "--out",
        str(out),
    ]
    assert main(argv) == 0
    rows = read_rows(out / "results.csv")
    assert [r["config"] for r in rows] == ["nb000", "nb004-6", "nb001-sound"]
    assert rows[0]["reported"] == "0.9359" and rows[1]["reported"] == "0.8584"
    md = (out / "results.md").read_text()
    assert "| nb000 |" in md and "93.59%" in md and "85.84%" in md
    assert "reduced run" in md  # a shortened run says it is not comparable


def test_preset_config_names() -> None:
    jobs = presets.notebook_jobs(lambda: tiny_images())
    names = [j.config for j in jobs]
    expected = ["nb000", "nb001", "nb002", "nb003", *(f"nb004-{i}" for i in range(1, 7))]
    assert names == expected + [f"{n}-sound" for n in expected]
    assert [j.reported for j in jobs[:10]] == [
        0.9359,
        0.5732,
        0.8575,
        0.97,
        0.966,
        0.9799,
        0.9295,
        0.9059,
        0.9128,
        0.8584,
    ]


# --- the notebooks' semantics, against transcriptions of their code ----------------------------


def test_nb000_matches_the_notebook_code() -> None:
    data = tiny_images()
    trained = nb.train_nb000(data, np.random.default_rng(3), epochs=2)
    rng = np.random.default_rng(3)  # the same draws, in the same order, as train_nb000's layers
    W = [rng.standard_normal((785, 17)) / math.sqrt(784), rng.standard_normal((17, 10))]
    X = np.c_[data.x_train / 255.0, np.ones(len(data.x_train))]
    Y = np.eye(10)[data.y_train]
    for _ in range(2):  # NeuralNet.fit / train, verbatim but for the names
        for j in range(0, len(X), 16):
            A = [X[j : j + 16]]
            for w in W:
                A.append(sigmoid(A[-1] @ w))
            D = [(A[-1] - Y[j : j + 16]) * A[-1] * (1 - A[-1])]
            for layer in range(len(A) - 2, 0, -1):
                D.append(D[-1] @ W[layer].T * A[layer] * (1 - A[layer]))
            D = D[::-1]
            for layer in range(len(W)):
                W[layer] += -0.1 * A[layer].T @ D[layer]
    for lin, w in zip(trained.model.linears, W, strict=True):
        np.testing.assert_allclose(lin.weight.data, w, rtol=1e-10, atol=1e-12)
        assert not lin.bias.data.any()  # the ones column is the only bias


def test_nb001_matches_the_notebook_code() -> None:
    data = tiny_images(n_train=50)  # 50 = 3 batches of 16 and one of 2
    trained = nb.train_nb001(data, np.random.default_rng(5), epochs=3)
    rng = np.random.default_rng(5)
    w = rng.standard_normal((784, 10)).T  # the notebook keeps (out, in)
    b = rng.standard_normal(10).reshape(10, 1)
    perm = rng.permutation(50)
    X, Y = data.x_train / 255.0, np.eye(10)[data.y_train]
    lr, bs = 3.0, 16
    for _ in range(3):
        X, Y = X[perm], Y[perm]  # shuffle(X, y, random_state=42): one fixed permutation
        for k in range(0, 50, bs):
            x, y = X[k : k + bs].T, Y[k : k + bs].T
            z = w @ x + b
            delta = (sigmoid(z) - y) * sigmoid(z) * (1 - sigmoid(z))
            w = w - lr / bs * (delta @ x.T)
            b = b - lr / bs * np.average(delta, axis=1).reshape(10, 1)
    lin = trained.model.linears[0]
    np.testing.assert_allclose(lin.weight.data, w.T, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(lin.bias.data, b.ravel(), rtol=1e-10, atol=1e-12)


def test_nb002_update_order_and_clipping() -> None:
    data = tiny_images(n_train=300)  # 2 full batches of 128; the partial one is skipped
    trained = nb.train_nb002(data, np.random.default_rng(7), epochs=1)
    rng = np.random.default_rng(7)
    W1, W2 = rng.standard_normal((784, 128)) / 784, rng.standard_normal((128, 10)) / 128
    b1, b2 = np.zeros(128), np.zeros(10)
    order = rng.permutation(300)
    for start in (0, 128):
        idx = order[start : start + 128]
        x, t = data.x_train[idx].astype(np.float64), np.eye(10)[data.y_train[idx]]
        z1 = x @ W1 + b1
        a1 = np.where(z1 < 0, 0, z1)
        z2 = a1 @ W2 + b2
        p = np.exp(z2 - z2.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        d2 = np.clip(p - t, -1, 1)
        W2 = W2 - 1e-5 * a1.T @ d2 / 128
        b2 = b2 - 1e-5 * d2.sum(axis=0) / 128
        d1 = np.clip((d2 @ W2.T) * (z1 > 0), -1, 1)  # through the already updated W2
        W1 = W1 - 1e-5 * x.T @ d1 / 128
        b1 = b1 - 1e-5 * d1.sum(axis=0) / 128
    lin1, lin2 = trained.model.linears
    for got, want in ((lin1.weight, W1), (lin1.bias, b1), (lin2.weight, W2), (lin2.bias, b2)):
        np.testing.assert_allclose(got.data, want, rtol=1e-9, atol=1e-15)


def notebook004(
    data: nb.Images, params: list[list[np.ndarray]], bs: int, lr: float, optimizer: str
) -> None:
    """One epoch of notebook 004's train(): per-sample backprop, gradients summed over the
    first ceil(0.7 n) samples of each batch, then sgd_step / adam_step. ``params`` =
    [[W, b], ...] with W as (in, out), updated in place."""
    m = [[np.zeros_like(a) for a in layer] for layer in params]
    v = 0.0
    x_all = (data.x_train / 255.0).astype(np.float32)
    for start in range(0, len(x_all), bs):
        images, labels = x_all[start : start + bs], data.y_train[start : start + bs]
        grads = [[np.zeros_like(a) for a in layer] for layer in params]
        for x, label in zip(images[: math.ceil(len(images) * 0.7)], labels, strict=False):
            acts, zs = [x], []
            for i, (W, b) in enumerate(params):
                zs.append(acts[-1] @ W + b)
                acts.append(
                    np.maximum(zs[-1], 0)
                    if i < len(params) - 1
                    else np.exp(zs[-1]) / np.exp(zs[-1]).sum()
                )
            dz = acts[-1] - np.eye(10)[label]
            for i in range(len(params) - 1, -1, -1):
                grads[i][0] += np.outer(acts[i], dz)
                grads[i][1] += dz
                if i:
                    dz = (params[i][0] @ dz) * (zs[i - 1] > 0)
        if optimizer == "sgd":
            for layer, g in zip(params, grads, strict=True):
                layer[0] -= lr * g[0]
                layer[1] -= lr * g[1]
        else:
            v = 0.5 * v + 0.5 * sum(float(np.sum(g[0].astype(np.float64) ** 2)) for g in grads)
            for layer, g, mm in zip(params, grads, m, strict=True):
                for k in (0, 1):
                    mm[k] = 0.9 * mm[k] + 0.1 * g[k]
                    layer[k] -= lr / math.sqrt(v + 1e-8) * mm[k]


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_nb004_matches_a_per_sample_loop(optimizer: str) -> None:
    data = tiny_images(n_train=70)  # batches of 32, 32, 6
    kwargs = dict(
        hidden=[12, 8], batch_size=32, lr=0.01, init="he", activation="relu", optimizer=optimizer
    )
    trained = nb.train_nb004(data, np.random.default_rng(9), epochs=1, **kwargs)  # type: ignore[arg-type]
    start = _nb004_model([12, 8], "relu", "he", np.random.default_rng(9))
    params = [
        [lin.weight.data.astype(np.float64), lin.bias.data.astype(np.float64)]
        for lin in start.linears
    ]
    assert all(np.std(b) > 0.5 for _, b in params)  # He init here: randn biases
    notebook004(data, params, 32, 0.01, optimizer)
    for lin, (W, b) in zip(trained.model.linears, params, strict=True):
        np.testing.assert_allclose(lin.weight.data, W, rtol=2e-4, atol=2e-5)
        np.testing.assert_allclose(lin.bias.data, b, rtol=2e-4, atol=2e-5)


def test_nb003_draws_batches_with_replacement_and_counts_epochs() -> None:
    data = tiny_images(n_train=200)
    seen: list[int] = []
    trained = nb.train_nb003(
        data,
        np.random.default_rng(0),
        iterations=5,
        batch_size=100,
        on_epoch=lambda e, logs: seen.append(e),
    )
    assert seen == [0, 1, 2]  # 2 iterations per epoch: after 2, 4 and the last (5th)
    assert len(trained.history["test_accuracy"]) == 3


def test_test_accuracy_over_several_chunks_matches_evaluate() -> None:
    data = tiny_images(n_train=300, n_test=4500)  # three chunks of the recorder's 2000
    trained = presets.train_sound(
        data, np.random.default_rng(0), hidden=[16], activation="relu", epochs=1
    )
    x_test = (data.x_test / 255.0).astype(np.float32)
    assert trained.test_accuracy == evaluate(trained.model, x_test, data.y_test)["accuracy"]


def test_sound_and_best_mlp_learn_the_tiny_problem() -> None:
    data = tiny_images(n_train=400, n_test=100)
    sound = presets.train_sound(
        data, np.random.default_rng(0), hidden=[32], activation="relu", epochs=6
    )
    assert sound.test_accuracy > 0.8
    best = best_mlp.train_best_mlp(
        data,
        np.random.default_rng(0),
        hidden=[32],
        dropout=0.1,
        lr=3e-3,
        weight_decay=1e-4,
        batch_size=32,
        epochs=6,
        max_shift=1,
    )
    assert best.test_accuracy > 0.8
    assert len(best.history["test_accuracy"]) == 6


def test_shift_images_moves_pixels_within_the_range() -> None:
    rng = np.random.default_rng(0)
    images = np.zeros((200, 784), dtype=np.float32)
    images[:, 14 * 28 + 14] = 1.0  # one lit pixel in the middle
    shifted = best_mlp.shift_images(images, 2, rng).reshape(200, 28, 28)
    rows, cols = np.nonzero(shifted.sum(axis=0))
    assert shifted.sum() == 200  # nothing lost: the pixel stays inside the image
    assert set(rows) == set(range(12, 17)) and set(cols) == set(
        range(12, 17)
    )  # all 25 shifts occur
    assert not best_mlp.shift_images(images, 0, rng).tolist() != images.tolist()


def test_closest_epoch_points_at_a_shorter_run() -> None:
    from bareprop.lab.experiment import Summary
    from bareprop.lab.results import closest_epoch

    job = presets.Job("nb", {}, lambda seed, hook: None, reported=0.9059)  # type: ignore[arg-type,return-value]
    summary = Summary(
        "nb", 3, 0.973, 0.001, 0.972, 0.974, 0.973, 1.0, None, 0, job, [0.9058, 0.93, 0.973]
    )
    assert "after epoch 1 of 3 (90.58%)" in closest_epoch(summary)
    summary.curve = [0.5, 0.8, 0.9]  # still climbing towards the figure at the end: no hint
    assert closest_epoch(summary) == ""
    summary.curve = [0.99, 0.98, 0.985]  # never near the figure: no hint
    assert closest_epoch(summary) == ""
