"""Fuzzing the two readers of untrusted files: IDX data and model ``.npz`` files.

Random and mutated bytes must give the library's own error (``DataError`` /
``ModelFileError``) or a valid result: never another exception, a hang or a huge allocation.
Each example runs under an alarm (a hang fails it) and ``tracemalloc`` (NumPy reports its
array allocations there), whose peak must stay small.
"""

from __future__ import annotations

import gzip
import io
import signal
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import bareprop as bp
from bareprop.data import read_idx, write_idx

MAX_PEAK = 32 << 20  # bytes any single read may allocate; the valid inputs here need < 1 MiB
FUZZ = settings(
    max_examples=250,
    deadline=None,  # the alarm below bounds each example; timing noise must not fail CI
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=True,  # the same examples on every CI run
    database=None,  # nothing written into the checkout
)


@contextmanager
def _bounded(seconds: int = 5) -> Iterator[None]:
    """Fail on a hang (SIGALRM) or an allocation peak above :data:`MAX_PEAK`."""

    def hang(signum: int, frame: Any) -> None:
        raise TimeoutError("reader hung")

    old = signal.signal(signal.SIGALRM, hang)
    signal.alarm(seconds)
    tracemalloc.start()
    try:
        yield
        _, peak = tracemalloc.get_traced_memory()
        assert peak < MAX_PEAK, f"allocated {peak} bytes"
    finally:
        tracemalloc.stop()
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def _only(error: type[Exception], read: Callable[[Path], Any], path: Path) -> Any:
    """``read(path)``; the only exception allowed is ``error``."""
    with _bounded(), np.errstate(all="ignore"):
        try:
            return read(path)
        except error as e:
            assert str(path) in str(e) or path.name in str(e), f"error does not name the file: {e}"
            return None


def _idx_bytes(gz: bool) -> bytes:
    buf = io.BytesIO()
    array = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    header = bytes([0, 0, 0x08, 3]) + np.asarray(array.shape, dtype=">u4").tobytes()
    buf.write(header + array.tobytes())
    raw = buf.getvalue()
    return gzip.compress(raw, mtime=0) if gz else raw


def _model_bytes(tmp: Path) -> bytes:
    model = bp.build_mlp(4, [3], 2, rng=np.random.default_rng(0))
    bp.save(model, tmp / "valid.npz", metadata={"classes": ["a", "b"]})
    return (tmp / "valid.npz").read_bytes()


def _mutate(data: bytes, edits: list[tuple[int, int, int]]) -> bytes:
    """Apply (kind, position, value) edits: 0 overwrite a byte, 1 delete, 2 insert, 3 truncate."""
    out = bytearray(data)
    for kind, pos, value in edits:
        if not out:
            break
        i = pos % len(out)
        if kind == 0:
            out[i] = value
        elif kind == 1:
            del out[i]
        elif kind == 2:
            out.insert(i, value)
        else:
            del out[i:]
    return bytes(out)


EDITS = st.lists(
    st.tuples(st.integers(0, 3), st.integers(0, 1 << 16), st.integers(0, 255)),
    min_size=1,
    max_size=6,
)


@FUZZ
@given(data=st.binary(max_size=512), gz=st.booleans())
def test_idx_random_bytes(tmp_path: Path, data: bytes, gz: bool) -> None:
    path = tmp_path / "random.idx"
    path.write_bytes(gzip.compress(data, mtime=0) if gz else data)
    _only(bp.DataError, read_idx, path)


@FUZZ
@given(edits=EDITS, gz=st.booleans())
def test_idx_mutated(tmp_path: Path, edits: list[tuple[int, int, int]], gz: bool) -> None:
    path = tmp_path / "mutated.idx"
    path.write_bytes(_mutate(_idx_bytes(gz), edits))
    result = _only(bp.DataError, read_idx, path)
    assert result is None or isinstance(result, np.ndarray)


@FUZZ
@given(
    dims=st.lists(st.integers(0, 2**32 - 1), min_size=1, max_size=8),
    code=st.sampled_from([8, 9, 11, 12, 13, 14]),
)
def test_idx_header_claims(tmp_path: Path, dims: list[int], code: int) -> None:
    """Any header, followed by a little data, raw and gzipped: sizes are checked first."""
    header = bytes([0, 0, code, len(dims)]) + np.asarray(dims, dtype=">u4").tobytes()
    for name, blob in (
        ("h.idx", header + bytes(64)),
        ("h.idx.gz", gzip.compress(header + bytes(64))),
    ):
        (tmp_path / name).write_bytes(blob)
        _only(bp.DataError, read_idx, tmp_path / name)


@pytest.mark.parametrize("dims", [(4_000_000_000,), (60000, 28, 28), (1 << 20, 1 << 10)])
def test_gzip_bomb_claim_is_refused_before_allocating(
    tmp_path: Path, dims: tuple[int, ...]
) -> None:
    """A tiny gzip whose header claims far more data than it can hold: refused, cheaply."""
    header = bytes([0, 0, 0x08, len(dims)]) + np.asarray(dims, dtype=">u4").tobytes()
    path = tmp_path / "bomb-idx1-ubyte.gz"
    path.write_bytes(gzip.compress(header + bytes(1000)))
    with _bounded(), pytest.raises(bp.DataError, match="bomb-idx1-ubyte.gz"):
        read_idx(path)


def test_valid_idx_still_reads(tmp_path: Path) -> None:
    array = np.random.default_rng(0).integers(0, 255, (50, 28, 28)).astype(np.uint8)
    for name in ("a-idx3-ubyte", "a-idx3-ubyte.gz"):
        write_idx(tmp_path / name, array)
        np.testing.assert_array_equal(read_idx(tmp_path / name), array)


@FUZZ
@given(data=st.binary(max_size=1024))
def test_model_random_bytes(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "random.npz"
    path.write_bytes(b"PK\x03\x04" + data if data[:1] == b"\x00" else data)
    _only(bp.ModelFileError, bp.load, path)


@FUZZ
@given(edits=EDITS)
def test_model_mutated(tmp_path: Path, edits: list[tuple[int, int, int]]) -> None:
    path = tmp_path / "mutated.npz"
    path.write_bytes(_mutate(_model_bytes(tmp_path), edits))
    model = _only(bp.ModelFileError, bp.load, path)
    assert model is None or isinstance(model, bp.Sequential)


def _npy(shape_text: str, descr: str = "<f4", body: bytes = b"") -> bytes:
    """A .npy member with a hand-written (possibly lying) header."""
    header = f"{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape_text}, }}"
    header += " " * (63 - (10 + len(header)) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode() + body


@pytest.mark.parametrize(
    "member",
    [
        _npy("(10**6, 10**6)"),  # claims 4 TB
        _npy("(1000000000,)", body=bytes(16)),  # claims 4 GB, holds 16 bytes
        _npy("(-1,)"),
        _npy("(3,)", descr="|O", body=b"\x80\x04N."),  # an object array: a pickle
    ],
)
def test_forged_npy_headers_are_refused_before_allocating(tmp_path: Path, member: bytes) -> None:
    import zipfile

    path = tmp_path / "forged.npz"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("config.npy", member)
    with _bounded(), pytest.raises(bp.ModelFileError, match="forged.npz"):
        bp.load(path)


def test_zip_bomb_is_refused(tmp_path: Path) -> None:
    """A member of 200 MB of zeros compresses to ~200 KB; it is refused without inflating it."""
    import zipfile

    path = tmp_path / "bomb.npz"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("param_0.npy", _npy("(50000000,)", body=bytes(200_000_000)))
    with _bounded(), pytest.raises(bp.ModelFileError, match="more data than the file can hold"):
        bp.load(path)


def test_forged_architecture_is_refused_before_building(tmp_path: Path) -> None:
    """A header naming a Linear(10**9, 10**6) over tiny weights must not allocate it."""
    import json

    from bareprop.files.model_file import header_sha256

    model = bp.build_mlp(4, [3], 2, rng=np.random.default_rng(0))
    path = tmp_path / "m.npz"
    bp.save(model, path)
    with np.load(path) as archive:
        arrays = {k: archive[k] for k in archive.files}
    header = json.loads(arrays["config"].tobytes())
    header["architecture"]["layers"][0]["in_features"] = 10**9
    header["architecture"]["layers"][0]["out_features"] = 10**6
    header["header_sha256"] = header_sha256(header)  # whoever forges it recomputes the digest
    arrays["config"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    np.savez(path, **arrays)
    with _bounded(), pytest.raises(bp.ModelFileError, match="architecture needs weights"):
        bp.load(path)
