"""The tables ``bareprop bench`` prints (rich on a terminal, or Markdown for BENCHMARKS.md)."""

from __future__ import annotations

import math
from typing import Any

from bareprop.bench import LABELS, BenchResult
from bareprop.bench.contenders import EPOCH_SAMPLES

COLUMNS = ("config", "contender", "s/epoch", "min-max", "samples/s", "vs PyTorch", "best rounds",
           "vs GEMMs")  # fmt: skip
DISAGREE = 1.2  # rounds whose slowest is 20% over their fastest: the machine was busy
PREDICT_COLUMNS = ("task", "s per 10k", "min-max", "vs PyTorch")


def _fmt(value: float, spec: str) -> str:
    return "-" if math.isnan(value) else format(value, spec)


def training_rows(result: BenchResult) -> list[dict[str, str]]:
    """One row per (config, contender): median s/epoch [min-max], samples/s and ratios."""
    rows = []
    for s in result.series:
        if s.task.endswith("predict"):
            continue
        name = s.config.name
        label = LABELS[s.task] + (f" ({s.variant})" if s.variant and s.variant != "default" else "")
        gemms = result.get("gemms", name)
        rows.append({
            "config": name,
            "contender": label,
            "s/epoch": _fmt(s.median, ".3f"),
            "min-max": f"{min(s.values):.3f}-{max(s.values):.3f}" if s.values else "-",
            "samples/s": _fmt(EPOCH_SAMPLES / s.median, ",.0f"),
            "vs PyTorch": _fmt(result.ratio(s.task, name), ".2f") + "x",
            "best rounds": _fmt(result.ratio(s.task, name, best=True), ".2f") + "x",
            "vs GEMMs": _fmt(s.median / gemms.median if gemms else math.nan, ".2f") + "x",
        })  # fmt: skip
    return rows


def predict_rows(result: BenchResult) -> list[dict[str, str]]:
    rows = []
    for s in result.series:
        if s.task.endswith("predict"):
            ratio = result.ratio(s.task, s.config.name, "torch-predict")
            rows.append({
                "task": LABELS[s.task],
                "network": "reference CNN" if s.config.model == "cnn" else "reference MLP",
                "s per 10k": _fmt(s.median, ".4f"),
                "min-max": f"{min(s.values):.4f}-{max(s.values):.4f}",
                "vs PyTorch": _fmt(ratio, ".2f") + "x",
            })  # fmt: skip
    return rows


def parts_rows(result: BenchResult) -> list[dict[str, str]]:
    """Each part of a bareprop step, in s/epoch, beside the GEMMs-alone time."""
    rows = []
    for name, parts in result.parts.items():
        gemms = result.get("gemms", name)
        if gemms:
            rows.append(
                {"config": name, "part": "(the GEMMs alone)", "s/epoch": _fmt(gemms.median, ".3f")}
            )
        for part, seconds in sorted(parts.items(), key=lambda kv: -kv[1]):
            rows.append({"config": name, "part": part, "s/epoch": f"{seconds:.3f}"})
        rows.append(
            {"config": name, "part": "sum of the parts", "s/epoch": f"{sum(parts.values()):.3f}"}
        )
    return rows


def targets(result: BenchResult) -> list[str]:
    """The issue's targets, each with the measured ratio: of medians, and of best rounds."""
    lines = []

    def add(
        what: str, task: str, config: str, against: str, goal: str | None, invert: bool = False
    ) -> None:
        median, best = (result.ratio(task, config, against, best=b) for b in (False, True))
        if invert:  # a time ratio (task / against) instead of a throughput ratio
            median, best = 1 / median, 1 / best
        if not math.isnan(median):
            target = f" (target {goal})" if goal else ""
            lines.append(f"{what}: {median:.2f}x median, {best:.2f}x best rounds{target}")

    for s in result.series:
        if s.task != "bareprop":
            continue
        name = s.config.name
        goal = ">= 1.0x" if s.config.model == "cnn" else ">= 1.5x" if "sgd" in name else ">= 1.4x"
        add(f"{name}: bareprop vs PyTorch eager throughput", "bareprop", name, "torch", goal)
        add(f"{name}: bareprop vs PyTorch fused Adam", "bareprop", name, "torch-fused", ">= 1.1x")
        bound = None if s.config.model == "cnn" else "<= 1.2x"  # the CNN's issue set none
        add(f"{name}: bareprop epoch / GEMMs-alone", "bareprop", name, "gemms", bound, True)
    for s in result.series:
        if s.task == "bareprop-predict":
            name = s.config.name
            add("predict 10k: bareprop vs PyTorch eager", s.task, name, "torch-predict", "> 1x")
    return lines


def warnings(result: BenchResult) -> list[str]:
    """A line for each contender whose rounds disagree by more than 20%."""
    lines = []
    for s in result.series:
        if len(s.values) > 1 and max(s.values) > DISAGREE * min(s.values):
            spread = max(s.values) / min(s.values) - 1
            lines.append(
                f"warning: the rounds of {LABELS[s.task]} on {s.config.name} disagree by "
                f"{100 * spread:.0f}%: the machine was busy; trust the best rounds' ratio"
            )
    return lines


def meta_line(result: BenchResult) -> str:
    m = result.meta
    extra = "  ".join(f"{k} {m[k]}" for k in ("numpy", "torch", "sklearn") if k in m)
    load = m.get("load_average")
    return (
        f"{m['cpu']}, {m['cores']} cores, {m['threads']} threads; Python {m['python']}  {extra}; "
        f"{m['rounds']} rounds, interleaved" + (f"; load average at the end {load}" if load else "")
    )


def print_tables(result: BenchResult, console: Any = None) -> None:
    """Print the three tables and the targets with rich."""
    from rich.console import Console
    from rich.table import Table

    if console is None:
        console = Console()
        if not console.is_terminal:  # piped to a file: wide enough that no column is cut
            console = Console(width=140)
    for title, rows in (
        ("Training, one epoch of MNIST (median over rounds)", training_rows(result)),
        ("Prediction of the 10k test set", predict_rows(result)),
        ("Where a bareprop step goes (s/epoch)", parts_rows(result)),
    ):
        if not rows:
            continue
        table = Table(title=title)
        for column in rows[0]:
            table.add_column(
                column,
                justify="left" if column in ("config", "contender", "task", "part") else "right",
            )
        for row in rows:
            table.add_row(*row.values())
        console.print(table)
    for line in warnings(result):
        console.print(line, style="yellow")
    console.print(meta_line(result), style="dim")


def to_markdown(result: BenchResult) -> str:
    """The same tables as Markdown."""
    out = []
    for rows in (training_rows(result), predict_rows(result), parts_rows(result)):
        if rows:
            out.append("| " + " | ".join(rows[0]) + " |")
            out.append("|" + "---|" * len(rows[0]))
            out += ["| " + " | ".join(r.values()) + " |" for r in rows]
            out.append("")
    out += [f"- {line}" for line in targets(result)]  # BENCHMARKS.md holds the targets
    out += [f"- {line}" for line in warnings(result)]
    out.append(f"\n{meta_line(result)}")
    return "\n".join(out) + "\n"
