"""``bareprop replay DIR``: rerun a run from its manifest and say whether it came out identical."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

EXIT_DIFFERENT = 1


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "replay",
        help="rerun a finished run from its manifest.json and compare the results",
        description="Train again with the config, seed and data recorded in DIR/manifest.json; "
        "report whether the final weights (SHA-256), the per-epoch metrics and the test "
        "metrics are bit-identical. Exit status 0 if identical, 1 if not.",
    )
    p.add_argument("run_dir", metavar="DIR", type=Path, help="a folder written by bareprop train")
    p.add_argument("--quiet", action="store_true", help="no progress while training")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from bareprop.show.run_folder import run_manifest
    from bareprop.train.config import TrainConfig
    from bareprop.train.manifest import check_data, compare, read_manifest
    from bareprop.train.run import train_run

    recorded = read_manifest(args.run_dir)
    config = TrainConfig.from_dict(recorded["config"])
    # The same data (checked by SHA-256), found wherever the replay is started from.
    config.data_dir = check_data(recorded)
    print(f"replaying {args.run_dir} (seed {config.seed}, {config.epochs} epochs)")
    result = train_run(config, verbose=0 if args.quiet else 1)
    rerun = run_manifest(result)
    if recorded.get("versions") != rerun["versions"]:
        print("note: bareprop, NumPy, BLAS or the machine differ from the recorded run")
    differences = compare(recorded, rerun)
    if differences:
        for line in differences:
            print(f"  {line}")
        print(f"DIFFERENT: {len(differences)} result(s) do not match the recorded run")
        return EXIT_DIFFERENT
    n = len(rerun["results"]["history"].get("loss", []))
    print(
        f"IDENTICAL: weights SHA-256 {rerun['results']['weights_sha256'][:16]}..., "
        f"{n} epochs of metrics and the test metrics match bit for bit"
    )
    return 0
