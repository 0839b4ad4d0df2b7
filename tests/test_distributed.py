"""Experiments on a real Dask cluster: a `dask scheduler` and `dask worker`s started as
processes on 127.0.0.1, compared with local runs; a worker killed mid-run."""

from __future__ import annotations

import csv
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import bareprop
from bareprop.cli import main
from tests.conftest import make_idx_dataset

distributed = pytest.importorskip("distributed")

TIMING = {"seconds_per_epoch", "seconds_total", "seconds_to_target"}
START_TIMEOUT = 60.0  # seconds for the scheduler and workers to come up


def _env() -> dict[str, str]:
    """The test's environment, with this bareprop importable by the workers."""
    src = str(Path(bareprop.__file__).resolve().parents[1])
    path = os.environ.get("PYTHONPATH", "")
    return {**os.environ, "PYTHONPATH": f"{src}{os.pathsep}{path}" if path else src}


class Cluster:
    """A scheduler and workers, each a `python -m dask ...` process on 127.0.0.1."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.procs: list[subprocess.Popen[bytes]] = []
        self.workers: dict[str, subprocess.Popen[bytes]] = {}
        file = folder / "scheduler.json"
        self._start(["scheduler", "--port", "0", "--scheduler-file", str(file)], "scheduler")
        deadline = time.monotonic() + START_TIMEOUT
        while not file.exists() or not file.read_text():
            if time.monotonic() > deadline:
                raise TimeoutError("dask scheduler did not start")
            time.sleep(0.1)
        time.sleep(0.2)  # the file is written whole, but give the JSON a moment
        self.address = json.loads(file.read_text())["address"]
        self.client = distributed.Client(self.address, timeout=START_TIMEOUT)

    def _start(self, args: list[str], log: str) -> subprocess.Popen[bytes]:
        with open(self.folder / f"{log}.log", "wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "dask", *args, "--host", "127.0.0.1", "--no-dashboard"],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=_env(),
                cwd=self.folder,
            )
        self.procs.append(proc)
        return proc

    def add_workers(self, *names: str) -> None:
        """Workers with one thread and no nanny (so that killing one kills it), started
        together; returns when all have joined."""
        n = len(self.client.scheduler_info()["workers"])
        for name in names:
            folder = str(self.folder / name)
            command = ["worker", self.address, "--nthreads", "1", "--no-nanny", "--name", name]
            self.workers[name] = self._start([*command, "--local-directory", folder], name)
        self.client.wait_for_workers(n + len(names), timeout=START_TIMEOUT)

    def address_of(self, name: str) -> str:
        workers = self.client.scheduler_info()["workers"]
        return next(a for a, w in workers.items() if w["name"] == name)

    def close(self) -> None:
        try:
            self.client.shutdown()  # scheduler and workers close cleanly, in seconds
        except Exception:  # already gone: terminate below
            self.client.close()
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=3)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=15)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    c = Cluster(tmp_path_factory.mktemp("dask"))
    try:
        c.add_workers("w1", "w2", "victim")  # test_a_worker_killed... kills the victim
        yield c
    finally:
        c.close()


def write_grid(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def rows_without_timing(out: Path) -> list[dict[str, str]]:
    with open(out / "results.csv", newline="") as f:
        return [{k: v for k, v in r.items() if k not in TIMING} for r in csv.DictReader(f)]


def histories_without_timing(out: Path) -> list[dict[str, object]]:
    entries = json.loads((out / "histories.json").read_text())
    for e in entries:
        e["history"].pop("seconds")
    return entries


def experiment(grid: Path, out: Path, data: Path, *extra: str) -> None:
    argv = ["experiment", str(grid), "--out", str(out), "--data-dir", str(data), *extra]
    assert main(argv) == 0


def test_a_run_on_dask_matches_a_local_run(
    cluster: Cluster, tiny_data: Path, tmp_path: Path
) -> None:
    grid = write_grid(
        tmp_path / "g.toml",
        "seeds = 2\n[base]\nhidden = [16]\nepochs = 2\nbatch_size = 32\n"
        "[grid]\nactivation = ['relu', 'tanh']\n",
    )
    experiment(grid, tmp_path / "local", tiny_data)
    experiment(grid, tmp_path / "dask", tiny_data, "--scheduler", cluster.address)
    local, remote = tmp_path / "local", tmp_path / "dask"
    assert rows_without_timing(remote) == rows_without_timing(local)
    assert len(rows_without_timing(local)) == 4
    # Bit for bit: every epoch's loss and accuracies, at full precision.
    assert histories_without_timing(remote) == histories_without_timing(local)
    # The workers wrote the run folders (here on the same file system), and say so.
    workers = set(cluster.client.scheduler_info()["workers"])
    for config in ("activation=relu", "activation=tanh"):
        for seed in (0, 1):
            run = json.loads((remote / "runs" / config / f"seed-{seed}" / "run.json").read_text())
            assert run["config"] == config and run["seed"] == seed
            assert run["ran_on"].split()[-1] in workers
    md = (remote / "results.md").read_text()
    assert "--scheduler " + cluster.address in md  # the reproducing command says where it ran


def _executing(cluster: Cluster, worker: str) -> list[str]:
    """Keys of the tasks ``worker`` is running now."""

    def running(dask_worker: object) -> list[str]:
        return [str(ts.key) for ts in dask_worker.state.executing]  # type: ignore[attr-defined]

    return cluster.client.run(running, workers=[worker]).get(worker, [])  # type: ignore[no-any-return]


def _done(out: Path) -> set[tuple[str, str]]:
    """``(config, seed)`` of the rows results.csv has now."""
    try:
        with open(out / "results.csv", newline="") as f:
            return {(r["config"], r["seed"]) for r in csv.DictReader(f)}
    except FileNotFoundError:
        return set()


def test_a_worker_killed_mid_run_loses_nothing_and_duplicates_nothing(
    cluster: Cluster, tmp_path: Path
) -> None:
    data = make_idx_dataset(tmp_path / "data", n_train=800, n_test=200)
    grid = write_grid(
        tmp_path / "g.toml",
        # Runs long enough and many enough (12 over 3 workers) that the victim is seen starting
        # a second run once the client has written its first run's row, under load too (with 3
        # epochs it once was not, with 10 once in CI not either).
        "seeds = 2\n[base]\nhidden = [64]\nepochs = 30\nbatch_size = 32\n"
        "[grid]\nlr = [0.001, 0.002, 0.003, 0.005, 0.007, 0.01]\n",
    )
    experiment(grid, tmp_path / "local", data)
    victim, victim_address = cluster.workers["victim"], cluster.address_of("victim")
    assert victim.poll() is None
    out = tmp_path / "dask"
    argv = ["experiment", str(grid), "--out", str(out), "--data-dir", str(data)]
    command = [sys.executable, "-m", "bareprop.cli", *argv, "--scheduler", cluster.address]
    proc = subprocess.Popen(command, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    seen: list[str] = []  # the victim's runs, in the order it started them
    deadline = time.monotonic() + 120
    while len(seen) < 2 and proc.poll() is None and time.monotonic() < deadline:
        now = _executing(cluster, victim_address)
        # Kill the victim in the middle of its second run, once its first run's row is in
        # results.csv (the client has its result): that one must not be run again.
        if seen and now and now[0] != seen[0] and _run_of(seen[0]) in _done(out):
            if _run_of(now[0]) not in _done(out):
                os.kill(victim.pid, signal.SIGKILL)
                seen.append(now[0])
        elif not seen and now:
            seen.append(now[0])
        time.sleep(0.02)
    output = proc.communicate(timeout=120)[0].decode()
    assert proc.returncode == 0, output
    assert len(seen) == 2, f"the victim ran {seen}: it was not killed in its second run"
    assert victim.wait(timeout=10) == -signal.SIGKILL
    # Nothing lost, nothing twice: the same rows and histories as the local run.
    assert rows_without_timing(out) == rows_without_timing(tmp_path / "local")
    assert histories_without_timing(out) == histories_without_timing(tmp_path / "local")
    # The run the victim was in the middle of was run again by another worker; the run it had
    # finished was not run again.
    ran_on = [json.loads(_run_json(out, key).read_text())["ran_on"].split()[-1] for key in seen]
    assert ran_on[0] == victim_address and ran_on[1] != victim_address


def _run_of(key: str) -> tuple[str, str]:
    """``(config, seed)`` of the task ``bareprop-<config>-seed<k>-<token>``."""
    config, seed = key.removeprefix("bareprop-").rsplit("-", 1)[0].rsplit("-seed", 1)
    return config, seed


def _run_json(out: Path, key: str) -> Path:
    config, seed = _run_of(key)
    return out / "runs" / config / f"seed-{seed}" / "run.json"


def test_an_unreachable_scheduler_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    grid = write_grid(tmp_path / "g.toml", "[base]\nhidden = [8]\nepochs = 1\n")
    out = tmp_path / "exp"
    started = time.monotonic()
    argv = ["experiment", str(grid), "--out", str(out), "--scheduler", f"tcp://127.0.0.1:{port}"]
    assert main([*argv, "--connect-timeout", "1"]) == 2
    assert time.monotonic() - started < 30
    err = capsys.readouterr().err.strip()
    assert err.startswith(
        f"bareprop experiment: error: no Dask scheduler answered at tcp://127.0.0.1:{port}"
    )
    assert "\n" not in err and not out.exists()  # one line, no half-made folder


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--scheduler", "tcp://bad host:1"], "--scheduler takes tcp://HOST:PORT"),
        (["--scheduler", "127.0.0.1:1", "--jobs", "2"], "--jobs and --scheduler exclude"),
        (["--scheduler", "127.0.0.1:1", "--connect-timeout", "0"], "--connect-timeout must be"),
    ],
)
def test_bad_scheduler_options(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    grid = write_grid(tmp_path / "g.toml", "[base]\nhidden = [8]\nepochs = 1\n")
    assert main(["experiment", str(grid), "--out", str(tmp_path / "x"), *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err


def test_without_dask_scheduler_says_which_extra_to_install(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed fails
    grid = write_grid(tmp_path / "g.toml", "[base]\nhidden = [8]\nepochs = 1\n")
    argv = ["experiment", str(grid), "--out", str(tmp_path / "x"), "--scheduler", "h:1"]
    assert main(argv) == 2
    assert "pip install 'bareprop[distributed]'" in capsys.readouterr().err


def test_a_random_search_runs_on_dask_as_it_runs_locally(
    cluster: Cluster, tiny_data: Path, tmp_path: Path
) -> None:
    grid = write_grid(
        tmp_path / "s.toml",
        "[base]\nhidden = [16]\nepochs = 1\n"
        "[search]\ntrials = 3\nseed = 4\nlr = { log_uniform = [1e-4, 1e-1] }\n"
        "batch_size = [16, 32]\n",
    )
    experiment(grid, tmp_path / "local", tiny_data)
    experiment(grid, tmp_path / "dask", tiny_data, "--scheduler", cluster.address)
    rows = rows_without_timing(tmp_path / "dask")
    assert rows == rows_without_timing(tmp_path / "local")
    assert [r["config"] for r in rows] == ["trial-1", "trial-2", "trial-3"]
    assert (tmp_path / "dask" / "accuracy_vs_hyperparameters.png").exists()


def test_import_bareprop_leaves_dask_out() -> None:
    code = "import sys, bareprop; print([m for m in ('dask', 'distributed') if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
