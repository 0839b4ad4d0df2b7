"""The IDX reader and load_mnist: the real bundled files, and every way a file can be wrong."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from bareprop import DataError
from bareprop.data import bundled_dir, load_mnist, read_idx, write_idx


def test_bundled_mnist_is_the_real_one() -> None:
    (xtr, ytr), (xte, yte) = load_mnist()
    assert xtr.shape == (60000, 28, 28) and xtr.dtype == np.uint8
    assert xte.shape == (10000, 28, 28) and yte.shape == (10000,)
    # Known statistics of MNIST (see shared/data/mnist/README.md).
    assert xtr.mean() == pytest.approx(33.318, abs=1e-3)
    assert xtr.std() == pytest.approx(78.567, abs=1e-3)
    np.testing.assert_array_equal(ytr[:10], [5, 0, 4, 1, 9, 2, 1, 3, 1, 4])
    np.testing.assert_array_equal(
        np.bincount(ytr), [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    )


def test_data_dir_and_environment_variable(
    tiny_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (xtr, _ytr), (xte, _) = load_mnist(tiny_data)
    assert xtr.shape == (300, 28, 28) and xte.shape == (100, 28, 28)
    monkeypatch.setenv("BAREPROP_DATA", str(tiny_data))
    (xtr2, _), _ = load_mnist()
    np.testing.assert_array_equal(xtr, xtr2)


@pytest.mark.parametrize("suffix", ["", ".gz"])
@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
def test_write_read_round_trip(tmp_path: Path, suffix: str, dtype: type) -> None:
    a = (np.arange(24).reshape(2, 3, 4) - 5).astype(dtype)
    write_idx(tmp_path / f"a{suffix}", a)
    b = read_idx(tmp_path / f"a{suffix}")
    assert b.dtype == np.dtype(dtype) and b.shape == a.shape
    np.testing.assert_array_equal(a, b)


def _raw(tmp_path: Path) -> bytes:
    write_idx(tmp_path / "ok", np.zeros((4, 2, 2), np.uint8))
    return (tmp_path / "ok").read_bytes()


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda b: b[:-1], "truncated"),
        (lambda b: b + b"\x00", "padded"),
        (lambda b: b[:6], "truncated IDX header"),
        (lambda b: b"", "not an IDX file"),
        (lambda b: b"\x01\x02" + b[2:], "not an IDX file"),
        (lambda b: b[:2] + b"\x07" + b[3:], "not an IDX file"),
        (lambda b: b[:4] + b"\xff\xff\xff\xff" + b[8:], "truncated|more than allowed"),
    ],
)
def test_bad_raw_files_name_the_file(tmp_path: Path, mutate: object, message: str) -> None:
    bad = tmp_path / "bad-idx3-ubyte"
    bad.write_bytes(mutate(_raw(tmp_path)))  # type: ignore[operator]
    with pytest.raises(DataError, match=message) as info:
        read_idx(bad)
    assert "bad-idx3-ubyte" in str(info.value)


def test_bad_gzip_files(tmp_path: Path) -> None:
    packed = gzip.compress(_raw(tmp_path))
    (tmp_path / "cut.gz").write_bytes(packed[: len(packed) // 2])
    with pytest.raises(DataError, match=r"cut\.gz: (corrupt|truncated)"):
        read_idx(tmp_path / "cut.gz")
    (tmp_path / "flip.gz").write_bytes(packed[:12] + bytes([packed[12] ^ 0xFF]) + packed[13:])
    with pytest.raises(DataError, match=r"flip\.gz"):
        read_idx(tmp_path / "flip.gz")
    (tmp_path / "short.gz").write_bytes(gzip.compress(_raw(tmp_path)[:-3]))
    with pytest.raises(DataError, match=r"short\.gz: truncated"):
        read_idx(tmp_path / "short.gz")


def test_wrong_type_and_mismatched_counts(tiny_data: Path) -> None:
    labels = tiny_data / "train-labels-idx1-ubyte.gz"
    images = tiny_data / "train-images-idx3-ubyte.gz"
    swapped = labels.read_bytes()
    labels.write_bytes(images.read_bytes())
    with pytest.raises(DataError, match="train-labels-idx1-ubyte.gz: expected labels"):
        load_mnist(tiny_data)
    labels.write_bytes(swapped)
    write_idx(labels, np.zeros(299, np.uint8))
    with pytest.raises(DataError, match="has 300 images but .*train-labels.* has 299 labels"):
        load_mnist(tiny_data)


def test_missing_folder_and_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such data folder"):
        load_mnist(tmp_path / "nope")
    with pytest.raises(DataError, match="no train-images-idx3-ubyte"):
        load_mnist(tmp_path)


def test_bundled_checksums_are_listed() -> None:
    names = {line.split()[1] for line in (bundled_dir() / "SHA256SUMS").read_text().splitlines()}
    assert names == {p.name for p in bundled_dir().glob("*.gz")}
