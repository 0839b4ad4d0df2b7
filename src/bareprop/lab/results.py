"""``results.md``: an experiment's per-configuration table, and for the notebooks preset the
comparison with each notebook's reported figure and the reasons for every difference."""

from __future__ import annotations

from bareprop.lab.summary import Summary, differs, pct, pm, seeds, value_range


def _seconds(x: float | None) -> str:
    return "—" if x is None else f"{x:.1f}"


def summary_rows(summaries: list[Summary]) -> tuple[list[str], list[list[str]]]:
    """The generic table: one row per configuration (also printed by the CLI)."""
    header = [
        "config",
        "runs",
        "test accuracy",
        "min to max",
        "best epoch acc.",
        "s/epoch",
        "s to target",
    ]
    rows = []
    for s in summaries:
        reach = (
            f"{_seconds(s.seconds_to_target)} ({s.reached}/{s.n})"
            if s.reached
            else f"never (0/{s.n})"
        )
        rows.append(
            [
                s.config,
                str(s.n),
                pm(s),
                value_range(s),
                pct(s.best_mean),
                f"{s.seconds_per_epoch:.2f}",
                reach,
            ]
        )
    return header, rows


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def closest_epoch(s: Summary) -> str:
    """Measured: the epoch at which our mean test accuracy comes closest to the reported figure,
    when that is not the last one and within a point of it (a hint that the notebook's figure
    came from a shorter run)."""
    if s.job is None or s.job.reported is None or len(s.curve) < 2:
        return ""
    reported = s.job.reported
    k = min(range(len(s.curve)), key=lambda i: abs(s.curve[i] - reported))
    if k == len(s.curve) - 1 or abs(s.curve[k] - reported) > 0.01:
        return ""  # no earlier epoch comes within a point of the figure
    return (
        f" Measured: our mean test accuracy is closest to the reported figure after epoch {k + 1} "
        f"of {len(s.curve)} ({pct(s.curve[k])})."
    )


def notebook_comparison(summaries: list[Summary]) -> str:
    """Notebook figure beside ours (faithful) and the same network with the sound recipe."""
    by_name = {s.config: s for s in summaries}
    header = [
        "config",
        "notebook",
        "reported",
        "ours (notebook semantics)",
        "seed range",
        "differs?",
        "sound recipe",
    ]
    rows, reasons = [], []
    for s in summaries:
        if s.job is None or (s.job.reported is None and "why" not in s.job.notes):
            continue
        sound = by_name.get(f"{s.config}-sound")
        flag = "yes" if differs(s) else "no"
        rows.append(
            [
                s.config,
                s.job.notes.get("title", ""),
                s.job.reported_text,
                pm(s),
                value_range(s),
                flag,
                pm(sound) if sound else "—",
            ]
        )
        if differs(s):
            assert s.job.reported is not None
            gap = 100 * (s.mean - s.job.reported)
            reasons.append(
                f"- **{s.config}**: ours {pm(s)} over {seeds(s.n)} vs {s.job.reported_text} "
                f"reported ({gap:+.2f} points). {s.job.notes.get('why', '')}{closest_epoch(s)}"
            )
        elif s.job.notes.get("always"):  # a note worth reading even without a difference
            reasons.append(
                f"- **{s.config}**: ours {pm(s)} over {seeds(s.n)}. {s.job.notes['why']}"
            )
    text = [_table(header, rows)]
    text.append(
        "\n*differs?*: the reported figure lies further from our mean than twice the standard "
        "deviation over seeds (at least 0.1 point). *sound recipe*: the same network trained as "
        "we would today (pixels in [0, 1], softmax cross-entropy averaged over the batch, "
        "He/Glorot init, Adam with a cosine-decayed lr 1e-3, batches of 128; the notebook's "
        "number of epochs, at most 5 for the large networks of 004)."
    )
    if reasons:
        text += [
            "\n### Why ours differs from the notebook's figure (and notes)\n",
            "\n".join(reasons),
        ]
    return "\n".join(text)


def render_markdown(summaries: list[Summary], *, title: str, command: str, extra: str = "") -> str:
    """The whole ``results.md``."""
    parts = [f"# {title}\n", f"Reproduce: `{command}`\n"]
    if any(s.job is not None and s.job.reported is not None for s in summaries):
        parts += ["## Notebooks: reported figure vs ours\n", notebook_comparison(summaries), ""]
    parts += [
        "## All configurations (test accuracy over seeds)\n",
        _table(*summary_rows(summaries)),
    ]
    if extra:
        parts += ["", extra]
    return "\n".join(parts) + "\n"


def print_summary_table(summaries: list[Summary], target: float) -> None:
    """The table of test accuracy over seeds, one row per configuration, on the terminal."""
    from rich.console import Console
    from rich.table import Table

    header, rows = summary_rows(summaries)
    table = Table(title=f"test accuracy over seeds (target {100 * target:.1f}%)")
    for h in header:
        table.add_column(h, justify="left" if h == "config" else "right")
    for row in rows:
        table.add_row(*row)
    Console(highlight=False, width=160).print(table)
