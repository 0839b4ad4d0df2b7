"""``bareprop train``: train an MLP or a CNN on MNIST (or any IDX data set) and write the run."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Collection
from pathlib import Path
from typing import Any

from bareprop.files.atomic import check_new_folder
from bareprop.train.config import TrainConfig

DEFAULTS = TrainConfig()


def add_model_options(
    parser: argparse.ArgumentParser,
    fields: Collection[str] | None = None,
    defaults: dict[str, Any] | None = None,
    title: str = "network and training",
) -> None:
    """One option per :class:`TrainConfig` field (or per field in ``fields``), derived from the
    field: ``--weight-decay`` for ``weight_decay``, its type, choices, default and help.

    Shared by every command that trains or checks a network (``train``, ``gradcheck``,
    ``compare``, ``trace``); each names the fields it uses, so that its ``--help`` lists only
    those. ``defaults`` overrides a field's default for this command (shown in the help).
    """
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    unknown = (set(fields or ()) | set(defaults or {})) - known
    assert not unknown, f"not TrainConfig fields: {sorted(unknown)}"
    group = parser.add_argument_group(title)
    for f in dataclasses.fields(TrainConfig):
        if fields is None or f.name in fields:
            default = (defaults or {}).get(f.name, getattr(DEFAULTS, f.name))
            group.add_argument("--" + f.name.replace("_", "-"), **_argument(f, default))


def _argument(f: dataclasses.Field[Any], default: Any) -> dict[str, Any]:
    """``add_argument``'s keywords for one config field."""
    help_text: str = f.metadata["help"]
    if isinstance(default, bool):
        return {"action": "store_true", "help": help_text}
    shown = " ".join(map(str, default)) if isinstance(default, list) else default
    kwargs: dict[str, Any] = {"default": default, "help": f"{help_text} (default: {shown})"}
    if f.metadata["choices"] is not None:
        kwargs["choices"] = f.metadata["choices"]
    elif isinstance(default, list):
        kwargs.update(type=int, nargs="+", metavar="N")
    elif default is None:
        kwargs.update(metavar="PATH", help=help_text)
    else:
        kwargs["type"] = type(default)
    return kwargs


def network_words(config: TrainConfig) -> str:
    """The network a config builds, in a few words: ``MLP [512, 256] relu``."""
    if config.model_file is not None:
        return f"the network of {config.model_file}"
    if config.model == "cnn":
        return "the reference CNN"
    return f"MLP {config.hidden} {config.activation}"


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """The :class:`TrainConfig` that parsed options describe, validated."""
    fields = TrainConfig.__dataclass_fields__
    values: dict[str, Any] = {name: getattr(args, name) for name in fields if hasattr(args, name)}
    return TrainConfig(**values).validate()


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "train",
        help="train a network (MLP or CNN) on MNIST and write the run to a folder",
        description="Train an MLP (or a CNN, --model cnn) on MNIST (bundled) or any data set of "
        "four IDX files.",
    )
    add_model_options(p)
    out = p.add_argument_group("output")
    out.add_argument(
        "--out",
        metavar="DIR",
        type=Path,
        default=None,
        help="folder for the model, config, metrics and plots (default: a new folder in runs/)",
    )
    out.add_argument("--no-plots", action="store_true", help="skip the PNG figures")
    out.add_argument("--quiet", action="store_true", help="print only the final line")
    out.add_argument(
        "--resume",
        metavar="DIR",
        type=Path,
        default=None,
        help="continue the interrupted run in DIR from its last checkpoint, bit for bit "
        "(its own options are used; a different option value is an error)",
    )
    p.set_defaults(run=run)


def with_absolute_data_dir(config: TrainConfig) -> TrainConfig:
    """``config`` with ``data_dir`` made absolute, so that ``--resume`` works from any folder.

    The run records its config; a relative ``--data-dir`` would be read again relative to the
    folder ``--resume`` is typed in. ``None`` (``$BAREPROP_DATA`` or the bundled MNIST) stays.
    """
    if config.data_dir is None:
        return config
    return dataclasses.replace(config, data_dir=str(Path(config.data_dir).resolve()))


def resume_config(args: argparse.Namespace) -> tuple[TrainConfig, Any]:
    """The config and checkpoint of the run in ``--resume DIR``.

    An option given on the command line must agree with the run's own value: continuing a run
    with another learning rate (say) would not be the run any more.
    """
    from bareprop.train.checkpoint import FILENAME, load_checkpoint
    from bareprop.train.manifest import data_sha256

    folder: Path = args.resume
    if (folder / "model.npz").exists():
        raise ValueError(f"--resume {folder}: this run already finished (model.npz exists)")
    checkpoint = load_checkpoint(folder / FILENAME)
    config = TrainConfig.from_dict(checkpoint.config)
    recorded = checkpoint.extra.get("data_sha256")
    if recorded is not None and recorded != data_sha256(config.data_dir):
        raise ValueError(f"--resume {folder}: the data files are not those the run started with")
    for name in TrainConfig.__dataclass_fields__:
        given, own = getattr(args, name, None), getattr(config, name)
        if name == "data_dir" and given is not None and own is not None:
            if Path(given).resolve() == Path(own).resolve():  # recorded absolute, typed relative
                continue
        if hasattr(args, name) and given != getattr(DEFAULTS, name) and given != own:
            option = "--" + name.replace("_", "-")
            raise ValueError(
                f"{option} {given} conflicts with the run being resumed ({name}={own!r}); drop it"
            )
    if args.out is not None and args.out.resolve() != folder.resolve():
        raise ValueError(f"--out {args.out} conflicts with --resume {folder}; drop --out")
    return config, checkpoint


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from bareprop.show.report import early_stopping_text
    from bareprop.show.run_folder import default_out_dir, write_run
    from bareprop.train.checkpoint import FILENAME
    from bareprop.train.run import train_run
    from bareprop.train.state import TrainingInterrupted

    if args.resume is not None:
        config, checkpoint = resume_config(args)
        out = args.resume
    else:
        config, checkpoint = with_absolute_data_dir(config_from_args(args)), None
        out = args.out if args.out is not None else default_out_dir()
        check_new_folder(out)  # created by the first checkpoint, so a failed start leaves nothing
    try:
        # The doctor reports a NaN or an overflow with the step and the layer, in one line;
        # NumPy's own RuntimeWarnings about it would only add noise before that line.
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            verbose = 0 if args.quiet else 1
            result = train_run(config, verbose=verbose, run_dir=out, resume=checkpoint)
    except TrainingInterrupted as e:
        where = (
            f"in epoch {e.state.epoch + 1}, after batch {e.state.batch}"
            if e.state.batch
            else f"after epoch {e.state.epoch}"
        )
        print(
            f"interrupted {where}: checkpoint written to {out / FILENAME}\n"
            f"resume with: bareprop train --resume {out}",
            file=sys.stderr,
        )
        return 130
    files = write_run(result, out, plots=not args.no_plots)
    (out / FILENAME).unlink(missing_ok=True)  # the run is complete: model.npz supersedes it
    if not args.quiet:
        print(f"wrote {out}/: {', '.join(p.name for p in files.values())}")
        print(f"test loss: {result.test_loss:.4f}   training: {result.seconds:.1f}s")
        if result.early_stopping is not None:
            print(f"early stopping: {early_stopping_text(result.early_stopping)}")
    print(f"test accuracy: {100 * result.test_accuracy:.2f}%")
    return 0
