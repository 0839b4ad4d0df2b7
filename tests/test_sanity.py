"""``bareprop sanity``: the four checks pass on sound networks, fail by name on planted bugs."""

from __future__ import annotations

import numpy as np
import pytest

from bareprop import Linear, Sequential, SoftmaxCrossEntropy, Tanh
from bareprop.check import sanity
from bareprop.cli import main

SMALL = ["--hidden", "32", "--probes", "10"]
ROWS = ("initial loss", "overfit 50 images", "gradient check", "weight decay raises the loss")


def failures(out: str) -> str:
    lines = [line for line in out.splitlines() if line.startswith("sanity: FAIL in ")]
    assert len(lines) == 1, out
    return lines[0]


@pytest.mark.parametrize("activation", ["relu", "tanh"])
@pytest.mark.parametrize("optimizer", ["adam", "adamw", "sgd"])
def test_sound_networks_pass(
    activation: str, optimizer: str, capsys: pytest.CaptureFixture[str]
) -> None:
    lr = ["--lr", "0.1"] if optimizer == "sgd" else []
    argv = ["sanity", *SMALL, "--activation", activation, "--optimizer", optimizer, *lr]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "sanity: PASS (4 checks)" in out
    for row in ROWS:
        assert row in out
    assert "FAIL" not in out


@pytest.mark.parametrize("bug", ["linear-bias", "linear-weight", "activation"])
def test_injected_bug_fails_the_gradient_check(
    bug: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["sanity", *SMALL, "--inject-bug", bug]) == 1
    out = capsys.readouterr().out
    assert "self-test, bug injected" in out
    assert "gradient check" in failures(out)


def test_monkeypatched_backward_fails(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A planted bug outside the command's own self-test: Tanh forgets its derivative."""
    monkeypatch.setattr(Tanh, "backward", lambda self, dy: dy)
    assert main(["sanity", *SMALL, "--activation", "tanh"]) == 1
    out = capsys.readouterr().out
    assert "gradient check" in failures(out)
    assert "wrong" in out


def test_a_wrong_layer_subclass_fails_the_gradient_check() -> None:
    class HalfBiasLinear(Linear):
        def backward(self, dy: np.ndarray) -> np.ndarray:
            dx = super().backward(dy)
            self.bias.grad *= 0.5  # bug
            return dx

    rng = np.random.default_rng(0)
    x, y = rng.random((4, 12)), rng.integers(0, 3, 4)
    model = Sequential([Linear(12, 8, rng=rng), Tanh(), HalfBiasLinear(8, 3, rng=rng)])
    check = sanity.gradient_check(model, SoftmaxCrossEntropy(), x, y, probes=10, seed=0)
    assert not check.passed and "layers.2.bias" in check.verdict
    errors = sanity.relative_errors(
        model, SoftmaxCrossEntropy(), x, y, probes=10, rng=np.random.default_rng(0)
    )
    # db is half the true gradient: |a - n| / (|a| + |n|) = 0.5 / 1.5 exactly
    assert errors["layers.2.bias"][0] == pytest.approx(1 / 3, rel=1e-4)
    assert errors["layers.2.weight"][0] < sanity.GOOD


def test_large_initial_weights_fail_the_initial_loss(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["sanity", *SMALL, "--init", "normal", "--init-std", "1.0"]
    assert main(argv) == 1
    assert "initial loss" in failures(capsys.readouterr().out)


def test_an_optimizer_that_ignores_weight_decay_fails(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    real_build = sanity.build

    def build_without_decay(*args, **kwargs):  # type: ignore[no-untyped-def]
        model, loss, optimizer = real_build(*args, **kwargs)
        optimizer.weight_decay = 0.0  # bug: the optimiser drops the decay it was given
        return model, loss, optimizer

    monkeypatch.setattr(sanity, "build", build_without_decay)
    assert main(["sanity", *SMALL]) == 1
    out = capsys.readouterr().out
    assert failures(out) == "sanity: FAIL in weight decay raises the loss"


def test_bands() -> None:
    assert sanity.band(1e-9) == "good"
    assert sanity.band(1e-5) == "acceptable with kinks"
    assert sanity.band(1e-3) == "uncomfortable"
    assert sanity.band(0.5) == "wrong"


def test_bad_option_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sanity", "--probes", "0"]) == 2
    err = capsys.readouterr().err
    assert err.strip() == "bareprop sanity: error: --probes must be at least 1, got 0"


@pytest.mark.slow
def test_cnn_passes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sanity", "--model", "cnn", "--probes", "8"]) == 0
    out = capsys.readouterr().out
    assert "sanity: PASS (4 checks)" in out
