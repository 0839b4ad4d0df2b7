"""save / load: bit-exact round trips, never a pickle, clear errors."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest

import bareprop as bp


def _model(dtype: type = np.float32) -> bp.Sequential:
    return bp.build_mlp(
        6,
        [5, 4],
        3,
        activation="leaky_relu",
        dropout=0.2,
        output_activation="sigmoid",
        rng=np.random.default_rng(0),
        dtype=dtype,
    )


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_round_trip_is_bit_exact(tmp_path: Path, dtype: type) -> None:
    model = _model(dtype)
    path = tmp_path / "m.npz"
    bp.save(model, path, metadata={"classes": ["a", "b", "c"]})
    loaded = bp.load(path)
    assert loaded.get_config() == model.get_config()
    assert loaded.metadata == {"classes": ["a", "b", "c"]}
    for a, b in zip(model.parameters(), loaded.parameters(), strict=True):
        assert a.data.dtype == b.data.dtype
        np.testing.assert_array_equal(a.data, b.data)
    x = np.random.default_rng(1).standard_normal((20, 6)).astype(dtype)
    np.testing.assert_array_equal(bp.predict_proba(model, x), bp.predict_proba(loaded, x))


def test_file_holds_no_pickle(tmp_path: Path) -> None:
    path = tmp_path / "m.npz"
    bp.save(_model(), path)
    with np.load(
        path, allow_pickle=False
    ) as archive:  # would raise if anything were an object array
        assert sorted(archive.files) == ["config", *sorted(f"param_{i}" for i in range(6))]
        assert all(archive[name].dtype != object for name in archive.files)


def test_truncated_and_missing_files(tmp_path: Path) -> None:
    path = tmp_path / "m.npz"
    bp.save(_model(), path)
    data = path.read_bytes()
    for cut in (0, 10, len(data) // 2, len(data) - 1):
        bad = tmp_path / f"cut{cut}.npz"
        bad.write_bytes(data[:cut])
        with pytest.raises(bp.ModelFileError, match=f"cut{cut}.npz"):
            bp.load(bad)
    with pytest.raises(bp.ModelFileError, match="no such model file"):
        bp.load(tmp_path / "absent.npz")


def test_tampered_weights_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "m.npz"
    model = _model()
    bp.save(model, path)
    with np.load(path) as archive:
        arrays = {k: archive[k] for k in archive.files}
    arrays["param_0"] = arrays["param_0"] + 1
    np.savez(tmp_path / "t.npz", **arrays)
    with pytest.raises(bp.ModelFileError, match="SHA-256"):
        bp.load(tmp_path / "t.npz")


def test_pickled_object_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "p.npz"
    np.savez(path, config=np.array([{"a": 1}], dtype=object))
    with pytest.raises(bp.ModelFileError, match="pickle"):
        bp.load(path)


def test_not_a_model(tmp_path: Path) -> None:
    path = tmp_path / "other.npz"
    np.savez(path, x=np.zeros(3))
    with pytest.raises(bp.ModelFileError, match="not a bareprop model"):
        bp.load(path)
    with zipfile.ZipFile(tmp_path / "z.npz", "w") as z:
        z.writestr("config.npy", b"garbage")
    with pytest.raises(bp.ModelFileError):
        bp.load(tmp_path / "z.npz")


def test_save_is_atomic_and_leaves_no_temp_files(tmp_path: Path) -> None:
    path = tmp_path / "m.npz"
    bp.save(_model(), path)
    before = path.read_bytes()

    class Boom(bp.Sequential):
        def parameters(self) -> list[bp.Parameter]:
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        bp.save(Boom([bp.Linear(2, 2)]), path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.npz"]
