"""Model files: self-describing, verified on load, and never a way to run code.

Real corrupt files: truncated at every kind of boundary, weights changed by one bit, a newer
format version, and archives carrying pickles whose payload would write a file. The payload
file must never appear: nothing in a model file is ever unpickled.
"""

from __future__ import annotations

import json
import os
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest

import bareprop as bp
from bareprop.cli import main
from bareprop.files.model_file import FORMAT, VERSION, header_sha256


class WritesAFile:
    """Unpickling this object creates the file ``target``: the proof that code ran."""

    def __init__(self, target: Path) -> None:
        self.target = target

    def __reduce__(self) -> tuple[object, tuple[str, int]]:
        return (os.open, (str(self.target), os.O_CREAT | os.O_WRONLY))


def _saved(tmp_path: Path) -> tuple[bp.Sequential, Path]:
    model = bp.build_mlp(12, [5], 3, rng=np.random.default_rng(0))
    path = tmp_path / "model.npz"
    metadata = {"classes": ["a", "b", "c"],
                "preprocessing": {"pixel_scale": 1 / 255, "image_shape": [3, 4]}}  # fmt: skip
    bp.save(model, path, metadata=metadata)
    return model, path


def _entries(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as archive:
        return {k: archive[k] for k in archive.files}


def _header(entries: dict[str, np.ndarray]) -> dict:
    return json.loads(entries["config"].tobytes())


def _with_header(
    entries: dict[str, np.ndarray], header: dict, *, digest: bool = True
) -> dict[str, np.ndarray]:
    """The entries with another header, whose header digest is recomputed (as whoever edits a
    file can) unless ``digest`` is False: so the checks after the digest's are tested too."""
    header = {k: v for k, v in header.items() if k != "header_sha256"}
    if digest:
        header["header_sha256"] = header_sha256(header)
    return {**entries, "config": np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)}


def test_the_payload_really_writes_a_file(tmp_path: Path) -> None:
    """The control: unpickled, the payload does create its file (so the tests below mean it)."""
    target = tmp_path / "control"
    pickle.loads(pickle.dumps(WritesAFile(target)))
    assert target.exists()


def test_an_object_array_with_a_payload_is_refused_and_never_runs(tmp_path: Path) -> None:
    _, path = _saved(tmp_path)
    target = tmp_path / "pwned"
    entries = _entries(path)
    entries["param_0"] = np.array([WritesAFile(target)], dtype=object)
    bad = tmp_path / "pickled.npz"
    np.savez(bad, **entries)  # np.savez pickles object arrays
    with pytest.raises(bp.ModelFileError, match="pickled object"):
        bp.load(bad)
    assert not target.exists()


def test_an_extra_object_entry_is_refused_before_anything_unpickles(tmp_path: Path) -> None:
    _, path = _saved(tmp_path)
    target = tmp_path / "pwned"
    bad = tmp_path / "extra.npz"
    np.savez(bad, **_entries(path), extra=np.array([WritesAFile(target)], dtype=object))
    with pytest.raises(bp.ModelFileError, match="pickled object"):
        bp.load(bad)
    assert not target.exists()


def test_a_plain_pickle_named_npz_is_refused_and_never_runs(tmp_path: Path) -> None:
    target = tmp_path / "pwned"
    bad = tmp_path / "model.npz"
    bad.write_bytes(pickle.dumps(WritesAFile(target)))
    with pytest.raises(bp.ModelFileError, match="model.npz"):
        bp.load(bad)
    assert main(["evaluate", str(bad)]) == 2
    assert not target.exists()


def test_a_pickle_inside_the_zip_under_an_npy_name_never_runs(tmp_path: Path) -> None:
    target = tmp_path / "pwned"
    bad = tmp_path / "model.npz"
    with zipfile.ZipFile(bad, "w") as z:
        z.writestr("config.npy", pickle.dumps(WritesAFile(target)))
    with pytest.raises(bp.ModelFileError, match="model.npz"):
        bp.load(bad)
    assert not target.exists()


def test_truncated_at_every_hundredth_byte_is_refused(tmp_path: Path) -> None:
    _, path = _saved(tmp_path)
    data = path.read_bytes()
    bad = tmp_path / "cut.npz"
    for cut in range(0, len(data), max(1, len(data) // 100)):
        bad.write_bytes(data[:cut])
        with pytest.raises(bp.ModelFileError, match="cut.npz"):
            bp.load(bad)


@pytest.mark.parametrize("entry", ["param_0", "param_1", "param_3"])
def test_one_flipped_bit_in_the_weights_is_refused(tmp_path: Path, entry: str) -> None:
    _, path = _saved(tmp_path)
    entries = _entries(path)
    flipped = entries[entry].copy()
    flipped.view(np.uint8).reshape(-1)[0] ^= 1  # the lowest bit of the first byte
    np.savez(tmp_path / "flipped.npz", **{**entries, entry: flipped})
    with pytest.raises(bp.ModelFileError, match="SHA-256"):
        bp.load(tmp_path / "flipped.npz")


def test_a_newer_format_version_is_refused(tmp_path: Path) -> None:
    _, path = _saved(tmp_path)
    entries = _entries(path)
    header = _header(entries)
    assert header["format"] == FORMAT and header["version"] == VERSION
    np.savez(tmp_path / "v2.npz", **_with_header(entries, {**header, "version": VERSION + 1}))
    with pytest.raises(bp.ModelFileError, match=f"version {VERSION + 1}"):
        bp.load(tmp_path / "v2.npz")
    np.savez(tmp_path / "other.npz", **_with_header(entries, {**header, "format": "keras"}))
    with pytest.raises(bp.ModelFileError, match="not a bareprop model"):
        bp.load(tmp_path / "other.npz")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"format": "bareprop-checkpoint"}, "not a bareprop model file"),
        ({"version": 2}, "model format version 2, this bareprop reads 1"),
        ({"version": "1"}, "model format version '1', this bareprop reads 1"),
        ({"weights_sha256": "0" * 64},
         "the weights do not match their SHA-256: the file was altered"),
    ],
)  # fmt: skip
def test_the_header_checks_name_what_is_wrong(tmp_path: Path, change: dict, message: str) -> None:
    _, path = _saved(tmp_path)
    entries = _entries(path)
    bad = tmp_path / "bad.npz"
    np.savez(bad, **_with_header(entries, {**_header(entries), **change}))
    with pytest.raises(bp.ModelFileError) as caught:
        bp.load(bad)
    assert str(caught.value) == f"{bad}: {message}"


def test_an_architecture_that_does_not_match_the_weights_is_refused(tmp_path: Path) -> None:
    _, path = _saved(tmp_path)
    entries = _entries(path)
    header = _header(entries)
    header["architecture"]["layers"][0]["out_features"] = 6  # the weights are (12, 5)
    np.savez(tmp_path / "arch.npz", **_with_header(entries, header))
    with pytest.raises(bp.ModelFileError, match="architecture needs weights"):
        bp.load(tmp_path / "arch.npz")


@pytest.mark.parametrize(
    ("metadata", "message"),
    [
        ({"classes": ["a", "b"]}, "class names"),
        ({"classes": "abc"}, "class names"),
        ({"preprocessing": {"pixel_scale": -1.0, "image_shape": [3, 4]}}, "preprocessing"),
        ({"preprocessing": {"pixel_scale": 0.5, "image_shape": [28, 28]}}, "preprocessing"),
        ({"preprocessing": "none"}, "preprocessing"),
        ([1, 2], "metadata must be a JSON object"),
    ],
)
def test_metadata_that_does_not_fit_the_model_is_refused(
    tmp_path: Path, metadata: object, message: str
) -> None:
    _, path = _saved(tmp_path)
    entries = _entries(path)
    np.savez(
        tmp_path / "meta.npz", **_with_header(entries, {**_header(entries), "metadata": metadata})
    )
    with pytest.raises(bp.ModelFileError, match=message):
        bp.load(tmp_path / "meta.npz")


def test_the_file_describes_itself_and_round_trips(tmp_path: Path) -> None:
    model, path = _saved(tmp_path)
    header = _header(_entries(path))
    assert set(header) >= {"format", "version", "architecture", "weights_sha256", "metadata"}
    assert header["metadata"]["classes"] == ["a", "b", "c"]
    assert header["metadata"]["preprocessing"] == {"pixel_scale": 1 / 255, "image_shape": [3, 4]}
    loaded = bp.load(path)
    x = np.random.default_rng(3).random((7, 12)).astype(np.float32)
    np.testing.assert_array_equal(bp.predict_proba(loaded, x), bp.predict_proba(model, x))


def test_a_trained_run_writes_a_complete_description(tiny_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert main(["train", "--data-dir", str(tiny_data), "--out", str(out), "--hidden", "8",
                 "--epochs", "1", "--quiet", "--no-plots"]) == 0  # fmt: skip
    meta = bp.load(out / "model.npz").metadata
    assert meta["classes"] == [str(c) for c in range(10)]
    assert meta["preprocessing"] == {"pixel_scale": 1 / 255, "image_shape": [28, 28]}
    assert meta["train_config"]["hidden"] == [8]


def test_cli_refuses_a_tampered_model_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, path = _saved(tmp_path)
    data = bytearray(path.read_bytes())
    data[-200] ^= 0xFF  # somewhere in the zip directory or the last weights
    path.write_bytes(bytes(data))
    image = tmp_path / "digit.png"
    image.write_bytes(b"not even an image")
    assert main(["predict", str(path), str(image)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err and "model.npz" in err


@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_weights_that_are_not_finite_are_refused_with_valid_digests(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], value: float
) -> None:
    """A model with a NaN weight answers every input alike (argmax of NaNs): refused, by load
    (the digests recomputed, as whoever edits a file can) and by save."""
    from bareprop.files.model_file import weights_sha256

    model, path = _saved(tmp_path)
    entries = _entries(path)
    entries["param_0"] = entries["param_0"].copy()
    entries["param_0"][1, 2] = value
    header = _header(entries)
    header["weights_sha256"] = weights_sha256([entries[f"param_{i}"] for i in range(4)])
    forged = tmp_path / "forged.npz"
    np.savez(forged, **_with_header(entries, header))
    with pytest.raises(bp.ModelFileError, match="parameter 0 holds 1 NaN or infinite values"):
        bp.load(forged)
    assert main(["predict", str(forged), str(tmp_path / "any.png")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "NaN or infinite" in err and "Traceback" not in err
    model.parameters()[0].data[1, 2] = value
    with pytest.raises(ValueError, match="save refused.*NaN or infinite"):
        bp.save(model, tmp_path / "again.npz")
    assert not (tmp_path / "again.npz").exists()
