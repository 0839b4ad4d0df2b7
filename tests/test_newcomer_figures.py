"""Figures that show what they claim: points, whole epochs, honest axes, a colour scale,
captions a reader understands, and no spread where there is one run."""

from __future__ import annotations

import html
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("matplotlib")
import matplotlib.pyplot as plt

from bareprop.cli import main
from bareprop.lab.presets import Job
from bareprop.lab.results import render_markdown, summary_rows
from bareprop.lab.summary import Summary, pm
from bareprop.show import plots
from bareprop.show.report import CAPTIONS


@pytest.fixture
def figures(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[plt.Figure]]:
    """The figures the ``save_*`` functions draw, kept open and drawn instead of saved."""
    kept: list[plt.Figure] = []

    def keep(fig: plt.Figure, path: Path) -> None:
        fig.canvas.draw()
        kept.append(fig)

    monkeypatch.setattr(plots, "save_figure", keep)
    yield kept
    for fig in kept:
        plt.close(fig)


def _history(epochs: int) -> dict[str, list[float]]:
    ramp = np.linspace(0.5, 0.9, epochs).tolist()
    return {"loss": [1.0 - a for a in ramp], "accuracy": ramp, "val_loss": [1.1 - a for a in ramp],
            "val_accuracy": ramp, "test_accuracy": ramp}  # fmt: skip


def _visible_xticks(ax: plt.Axes) -> list[float]:
    low, high = ax.get_xlim()
    return [t for t in ax.get_xticks() if low <= t <= high]


def test_one_epoch_runs_overlaid_show_their_points(figures: list[plt.Figure]) -> None:
    runs = [("relu", _history(1)), ("tanh", _history(1)), ("tanh", _history(1))]
    plots.save_curves_overlay(runs, Path("unused.png"))
    for ax in figures[0].axes[:2]:
        lines = ax.get_lines()
        assert len(lines) == 3
        assert all(line.get_marker() not in (None, "None", "", " ") for line in lines)


def test_a_long_overlay_may_drop_its_markers(figures: list[plt.Figure]) -> None:
    plots.save_curves_overlay([("a", _history(plots.FEW_POINTS + 1))], Path("unused.png"))
    assert figures[0].axes[0].get_lines()[0].get_marker() in (None, "None", "", " ")


@pytest.mark.parametrize("epochs", [1, 2, 3, 7, 12, 40])
def test_epoch_axes_carry_whole_epochs(figures: list[plt.Figure], epochs: int) -> None:
    plots.save_curves(_history(epochs), Path("unused.png"))
    plots.save_curves_overlay([("a", _history(epochs))], Path("unused.png"))
    for fig in figures:
        for ax in fig.axes[:2]:
            ticks = _visible_xticks(ax)
            assert ticks and all(float(t).is_integer() for t in ticks), ticks
            assert 1 in ticks or epochs > 10


def test_per_class_bars_start_at_zero_and_the_legend_covers_none(
    figures: list[plt.Figure],
) -> None:
    confusion = np.diag([980, 1130, 1000, 990, 950, 860, 940, 1000, 900, 960]) + 2
    confusion[8, 3] = confusion[9, 4] = 40  # the last classes have the tallest bars
    plots.save_per_class(confusion, Path("unused.png"))
    ax = figures[0].axes[0]
    assert ax.get_ylim()[0] == 0.0
    renderer = figures[0].canvas.get_renderer()  # type: ignore[attr-defined]
    legend = ax.get_legend().get_window_extent(renderer)
    assert len(ax.patches) == 10
    assert not any(legend.overlaps(bar.get_window_extent(renderer)) for bar in ax.patches)
    heights = [bar.get_height() for bar in ax.patches]
    totals = confusion.sum(axis=1)
    np.testing.assert_allclose(heights, 1 - np.diag(confusion) / totals, rtol=1e-12)


def test_first_layer_tiles_share_one_colour_scale_with_a_bar(figures: list[plt.Figure]) -> None:
    weight = np.random.default_rng(0).standard_normal((784, 12)) * np.linspace(0.1, 2.0, 12)
    plots.save_first_layer(weight, Path("unused.png"))
    fig = figures[0]
    images = [im for ax in fig.axes for im in ax.get_images()]
    assert len(images) == 12
    limits = {im.get_clim() for im in images}
    assert len(limits) == 1  # one scale: a tile's colour means the same weight everywhere
    low, high = limits.pop()
    assert high > 0 and low == -high
    bars = [ax for ax in fig.axes if "weight" in ax.get_xlabel()]
    assert len(bars) == 1  # the colour bar says what the colours mean


def test_accuracy_by_config_draws_no_bars_and_no_spread_for_one_run(
    figures: list[plt.Figure],
) -> None:
    plots.save_accuracy_by_config(["a", "b"], [0.9, 0.8], [0.0, 0.0], Path("u.png"), runs=[1, 1])
    plots.save_accuracy_by_config(["a", "b"], [0.9, 0.8], [0.01, 0.02], Path("u.png"), runs=[3, 3])
    one, several = (fig.axes[0] for fig in figures)
    assert len(one.patches) == len(several.patches) == 0  # dots: the axis does not start at 0
    assert len(one.containers) == 0 and len(several.containers) == 1  # error bars: seeds only
    labels = [one.get_legend().get_texts()[0].get_text(), several.get_legend().get_texts()[0]]
    assert labels[0] == "ours (one run each)" and "std" in labels[1].get_text()


def _summary(n: int, std: float) -> Summary:
    job = Job("relu", {}, lambda seed, hook: None)  # type: ignore[arg-type,return-value]
    return Summary("relu", n, 0.8775, std, 0.8775 - std, 0.8775 + std, 0.8775, 1.0, None, 0, job)


def test_one_run_has_no_spread_to_show() -> None:
    assert pm(_summary(1, 0.0)) == "87.75%"
    assert pm(_summary(3, 0.004)) == "87.75 ± 0.40%"
    _, rows = summary_rows([_summary(1, 0.0)])
    assert rows[0][2:4] == ["87.75%", "one run"]
    markdown = render_markdown([_summary(1, 0.0)], title="t", command="c")
    assert "±" not in markdown and "87.75%" in markdown


def test_report_captions_say_how_to_read_each_figure(tiny_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    argv = ["train", "--data-dir", str(tiny_data), "--out", str(out), "--hidden", "8",
            "--epochs", "1", "--batch-size", "64", "--quiet"]  # fmt: skip
    assert main(argv) == 0
    page = (out / "report.html").read_text(encoding="utf-8")
    captions = page.split("<figcaption>")[1:]
    pngs = sorted(p.stem for p in out.glob("*.png"))
    assert len(captions) == len(pngs) == 6
    for stem in pngs:
        title, how = CAPTIONS[stem]
        assert f"<b>{html.escape(title)}.</b>" in page and len(how.split()) >= 10, stem
    for internal in ("curves", "confusion", "first_layer", "per_class"):
        assert f"<figcaption>{internal}</figcaption>" not in page
    assert "is a 6 that the model called a 1, with probability 1.00" in page
