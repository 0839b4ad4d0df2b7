"""``report.html``: one self-contained page per run or experiment. An edge module.

The page holds the configuration, the per-epoch table, the figures (PNG embedded as base64
``data:`` URIs) and the final metrics; it loads nothing from the network, so it opens offline
and can be mailed as one file.
"""

from __future__ import annotations

import base64
import html
import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bareprop.files.atomic import atomic_write
from bareprop.show.captions import CAPTIONS

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
h1 { font-size: 1.6em; } h2 { font-size: 1.25em; margin-top: 1.6em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: 0.6em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: left; }
th { background: #f3f3f3; } td.num { text-align: right; }
figure { margin: 1.5em 0; } img { max-width: 100%; border: 1px solid #eee; }
figcaption { max-width: 60em; line-height: 1.4; }
code { background: #f5f5f5; padding: 0 3px; } .metric { font-size: 1.3em; font-weight: bold; }
"""


def img_tag(path: Path, alt: str) -> str:
    """``<img>`` with the PNG at ``path`` embedded as a base64 data URI."""
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(_td(html.escape(str(c))) for c in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _td(content: str) -> str:
    """A cell; numbers (and ranges, ``±``, percentages) are right-aligned."""
    numeric = re.fullmatch(r"[\d.,:+\-±%() ]+|[\d.%]+ to [\d.%]+|never.*", content)
    return f'<td class="num">{content}</td>' if numeric else f"<td>{content}</td>"


def page(title: str, sections: Sequence[tuple[str, str]]) -> str:
    """A whole HTML document: a title and ``(heading, html body)`` sections."""
    parts = [f"<h2>{html.escape(h)}</h2>\n{body}" if h else body for h, body in sections]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head>\n"
        f"<body><h1>{html.escape(title)}</h1>\n" + "\n".join(parts) + "\n</body></html>\n"
    )


def figures_html(figures: dict[str, Path]) -> str:
    """Each PNG as a ``<figure>`` captioned with what it shows and how to read it."""
    parts = []
    for name, p in figures.items():
        title, how = CAPTIONS.get(Path(p).stem, (name, ""))
        caption = f"<b>{html.escape(title)}.</b> {html.escape(how)}".rstrip()
        parts.append(f"<figure>{img_tag(p, title)}<figcaption>{caption}</figcaption></figure>")
    return "\n".join(parts)


def epoch_table(history: dict[str, list[float]]) -> str:
    """One row per epoch, one column per recorded metric (accuracies in percent)."""
    keys = [
        k
        for k, v in history.items()
        if isinstance(v, list) and v and len(v) == len(history["loss"])
    ]
    rows = []
    for i in range(len(history["loss"])):
        rows.append([i + 1, *(_value(k, history[k][i]) for k in keys)])
    return table(["epoch", *keys], rows)


def _value(key: str, value: float) -> str:
    if "accuracy" in key:
        return f"{100 * value:.2f}%"
    return f"{value:.3f}" if key == "seconds" else f"{value:.4g}"


def write_page(path: Path, title: str, sections: Sequence[tuple[str, str]]) -> Path:
    text = page(title, sections)
    atomic_write(path, lambda f: f.write(text.encode("utf-8")))
    return path


def run_figures(result: Any, out_dir: Path) -> dict[str, Path]:
    """The single-run figures beyond curves and confusion matrix: sample digits, the most
    confidently misclassified test digits, first-layer weights and per-class accuracy."""
    from bareprop.data.mnist import inputs_for, load_split, preprocess
    from bareprop.show import cnn_plots, plots
    from bareprop.train.fit import predict_proba

    x_img, y_test = load_split(result.config.data_dir, "test")  # not the training set again
    x_test = preprocess(x_img, np.dtype(result.config.dtype))
    y_test = y_test.astype(np.int64)
    names = ("samples", "misclassified", "first_layer", "per_class")
    files = {name: out_dir / f"{name}.png" for name in names}
    plots.save_samples(x_test, y_test, files["samples"])
    probabilities = predict_proba(result.model, inputs_for(result.model, x_img))
    plots.save_misclassified(x_test, y_test, probabilities, files["misclassified"])
    first = result.model.parameters()[0].data  # the first layer's weight
    if first.ndim == 2 and int(np.sqrt(first.shape[0])) ** 2 == first.shape[0]:
        plots.save_first_layer(first, files["first_layer"])
    elif first.ndim == 4:  # a convolution: its filters, then what each conv layer makes
        files["first_layer"] = out_dir / "filters.png"
        cnn_plots.save_filters(first, files["first_layer"])
        files["feature_maps"] = out_dir / "feature_maps.png"
        cnn_plots.save_feature_maps(result.model, inputs_for(result.model, x_img[:1]),
                                    int(y_test[0]), files["feature_maps"])  # fmt: skip
    else:
        del files["first_layer"]
    plots.save_per_class(result.confusion, files["per_class"])
    return files


def early_stopping_text(stopped: dict[str, Any]) -> str:
    """Where early stopping stopped a run and which epoch's weights it kept, in words."""
    if stopped.get("stopped_epoch") is None:
        return f"never triggered; the best validation loss was at epoch {stopped['best_epoch']}"
    kept = stopped.get("weights_from_epoch")
    weights = f"the weights of epoch {kept} (best validation loss)" if kept else "the last weights"
    return f"stopped after epoch {stopped['stopped_epoch']}, keeping {weights}"


def write_run_report(result: Any, out_dir: Path, files: dict[str, Path]) -> Path:
    """``out_dir/report.html`` for one :class:`~bareprop.train.run.RunResult`, with ``files``."""
    metrics = [
        ["test accuracy", f"{100 * result.test_accuracy:.2f}%"],
        ["test loss", f"{result.test_loss:.4f}"],
        ["training seconds", f"{result.seconds:.1f}"],
        ["epochs", str(len(result.history["loss"]))],
    ]
    stopped = getattr(result, "early_stopping", None)
    if stopped:
        metrics.append(["early stopping", early_stopping_text(stopped)])
    figures = {k: p for k, p in files.items() if p.suffix == ".png" and p.exists()}
    config = json.dumps(result.config.to_dict(), indent=2)
    sections = [
        ("", f'<p class="metric">test accuracy {100 * result.test_accuracy:.2f}%</p>'),
        ("Final metrics", table(["metric", "value"], metrics)),
        ("Configuration", f"<pre>{html.escape(config)}</pre>"),
        ("Per epoch", epoch_table(result.history)),
        ("Figures", figures_html(figures)),
    ]
    return write_page(out_dir / "report.html", f"bareprop run: {out_dir.name}", sections)


def markdown_html(text: str) -> str:
    """The small Markdown subset ``results.md`` uses: headings, tables, bullets, paragraphs,
    `code`, **bold** and *italic*."""
    out: list[str] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("|"):
            block = []
            while i < len(lines) and lines[i].startswith("|"):
                block.append(
                    [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", lines[i])[1:-1]]
                )
                i += 1
            out.append(
                _inline_table(block[0], [r for r in block[1:] if not set("".join(r)) <= set("-: ")])
            )
            continue
        if line.startswith("#"):
            level = min(len(line) - len(line.lstrip("#")) + 1, 4)
            out.append(f"<h{level}>{_inline(line.lstrip('#').strip())}</h{level}>")
        elif line.startswith("- "):
            out.append(f"<ul><li>{_inline(line[2:])}</li></ul>")
        elif line.strip():
            out.append(f"<p>{_inline(line)}</p>")
        i += 1
    return "\n".join(out)


def _inline(text: str) -> str:
    text = html.escape(text)
    text = re.sub(r"`([^`]+)`", r"<code>\1</code>", text)
    text = re.sub(r"\*\*([^*]+)\*\*", r"<b>\1</b>", text)
    return re.sub(r"\*([^*]+)\*", r"<i>\1</i>", text)


def _inline_table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{_inline(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(_td(_inline(c)) for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def write_experiment_report(
    out: Path,
    *,
    title: str,
    records: Sequence[Any],
    summaries: Sequence[Any],
    markdown: str,
    plots: bool = True,
    extra_figures: dict[str, Path] | None = None,
) -> Path:
    """``out/report.html`` for an experiment: results.md's tables, the figures (accuracy per
    configuration with error bars; all runs' curves overlaid; then ``extra_figures``, caption
    -> PNG) and each run's per-epoch table."""
    figures: dict[str, Path] = {}
    if plots and summaries:
        from bareprop.show import plots as plotting

        figures["accuracy_by_config"] = out / "accuracy_by_config.png"
        plotting.save_accuracy_by_config(
            [s.config for s in summaries],
            [s.mean for s in summaries],
            [s.std for s in summaries],
            out / "accuracy_by_config.png",
            reported=[s.job.reported if s.job is not None else None for s in summaries],
            runs=[s.n for s in summaries],
        )
        figures["curves_overlay"] = out / "curves_overlay.png"
        plotting.save_curves_overlay(
            [(r.job.config, r.history) for r in records], out / "curves_overlay.png"
        )
    figures.update(extra_figures or {})
    per_run = "\n".join(
        f"<h3>{html.escape(r.job.config)} seed {r.seed}</h3>{epoch_table(r.history)}"
        for r in records
    )
    body = markdown_html(markdown.split("\n", 1)[1] if markdown.startswith("# ") else markdown)
    sections = [
        ("", body),
        ("Figures", figures_html(figures)),
        ("Per-epoch history of every run", per_run),
    ]
    return write_page(out / "report.html", title, sections)
