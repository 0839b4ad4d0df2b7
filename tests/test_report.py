"""report.html: self-contained, and it renders with its images in headless Chromium."""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from bareprop.cli import main
from bareprop.show.report import markdown_html

FIGURES = ["curves", "confusion_matrix", "samples", "misclassified", "first_layer", "per_class"]

# After the load event, the page writes each image's naturalWidth into the DOM, which
# `chromium --dump-dom` prints.
PROBE = """<script>window.addEventListener("load", () => {
  const r = document.createElement("pre"); r.id = "probe";
  r.textContent = JSON.stringify(
    [...document.images].map(i => [i.alt, i.naturalWidth, i.naturalHeight]));
  document.body.appendChild(r);
});</script>"""


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.conftest import make_idx_dataset

    root = tmp_path_factory.mktemp("report")
    data = make_idx_dataset(root / "data")
    out = root / "run"
    argv = [
        "train",
        "--data-dir",
        str(data),
        "--out",
        str(out),
        "--hidden",
        "16",
        "--epochs",
        "2",
        "--batch-size",
        "32",
        "--quiet",
    ]
    assert main(argv) == 0
    return out


def test_train_writes_every_figure_and_a_self_contained_report(run_dir: Path) -> None:
    for name in FIGURES:
        assert (run_dir / f"{name}.png").stat().st_size > 1000, name
    page = (run_dir / "report.html").read_text(encoding="utf-8")
    assert page.count('src="data:image/png;base64,') == len(FIGURES)
    assert not re.search(r'(src|href)="(?!data:)', page)  # nothing to fetch, not even a stylesheet
    config = json.loads((run_dir / "config.json").read_text())
    accuracy = f"{100 * config['test_accuracy']:.2f}%"
    assert f"test accuracy {accuracy}" in page  # the final metric
    assert (
        '"hidden": [' in html.unescape(page) and "<th>val_accuracy</th>" in page
    )  # config and per-epoch table
    assert page.count("<tr><td") >= 2 + 4  # two epochs, four final metrics


def test_markdown_tables_become_html() -> None:
    text = markdown_html("# T\n\n| a | b \\| c |\n|---|---|\n| 1 | **2** |\n\n- item `x`\n")
    assert "<th>b | c</th>" in text and "<td><b>2</b></td>" in text
    assert "<li>item <code>x</code></li>" in text and "<h2>T</h2>" in text


def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        if os.environ.get("BAREPROP_REQUIRE_CHROMIUM"):
            pytest.fail(
                "chromium is required here (BAREPROP_REQUIRE_CHROMIUM is set) but not installed"
            )
        pytest.skip(
            "chromium is not installed (Debian: apt-get install -y chromium; .ci/run installs it)"
        )
    return path


def render(page: Path, tmp_path: Path) -> list[list]:
    """Open ``page`` (with the probe added) in headless Chromium; each image's [alt, w, h]."""
    probed = tmp_path / f"probed-{page.name}"
    probed.write_text(
        page.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"), encoding="utf-8"
    )
    argv = [
        chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
        "--virtual-time-budget=10000",
        "--dump-dom",
        probed.as_uri(),
    ]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    match = re.search(r'<pre id="probe">(.*?)</pre>', done.stdout, re.S)
    assert match, f"no probe in chromium's DOM (exit {done.returncode}): {done.stderr[-2000:]}"
    return json.loads(match.group(1))


def test_report_renders_with_its_images_in_chromium(run_dir: Path, tmp_path: Path) -> None:
    images = render(run_dir / "report.html", tmp_path)
    assert len(images) == len(FIGURES)
    for alt, width, height in images:
        assert width > 100 and height > 100, alt
    # The probe can fail: an image whose data is corrupt has no natural size.
    broken = tmp_path / "broken.html"
    broken.write_text('<html><body><img alt="bad" src="data:image/png;base64,AAAA"></body></html>')
    assert render(broken, tmp_path) == [["bad", 0, 0]]
