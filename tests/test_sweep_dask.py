"""archcalc sweep --scheduler: the same sweep on a dask.distributed cluster (a LocalCluster of two
worker processes here) gives the local run's results exactly, in the same order; a worker
killed mid-sweep loses no variant; an unreachable scheduler is a clear error within seconds."""
import os
import signal
import threading
import time

import pytest

distributed = pytest.importorskip("distributed", reason="the cluster extra (pip install "
                                  "'archcalc[cluster]') is not installed")

from conftest import run_cli  # noqa: E402
from test_sweep import TINY, tiny_by_hand  # noqa: E402

from archcalc.design.sweep import sweep  # noqa: E402


@pytest.fixture(scope="module")
def cluster():
    from distributed import Client, LocalCluster
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                      silence_logs=50) as c, Client(c) as client:
        yield c, client


@pytest.fixture
def tiny(tmp_path):
    p = tmp_path / "tiny.yaml"
    p.write_text(TINY)
    return str(p)


def _rows(results):
    return [(r.variant, r.settings, r.figures, r.error) for r in results]


def test_cluster_results_equal_local_in_order(cluster, tiny):
    _, client = cluster
    sets = ["res=28..64/2", "width=2,4,8", "dtype=fp32,fp16"]
    local = _rows(sweep(tiny, sets, jobs=1))
    remote = _rows(sweep(tiny, sets, client=client))
    assert remote == local
    assert [v for v, *_ in remote] == list(range(len(local)))
    assert any(e is not None for *_, e in remote) and any(f for _, _, f, _ in remote)


def test_cluster_reads_stdin_and_unshared_files(cluster, tiny, tmp_path):
    """The command hands the workers the spec's text, so a file the workers cannot see (here:
    one deleted after the sweep began) or standard input still works."""
    c, client = cluster
    p = run_cli("sweep", "-", "--set", "res=32,64", "-F", "csv", "--scheduler",
                c.scheduler_address, input_text=TINY)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert len(lines) == 3 and lines[1].split(",")[3] == str(tiny_by_hand(32, 8)[0])
    results = sweep(tiny, ["res=32,34"], client=client)     # the spec is read here, at once
    os.unlink(tiny)
    got = list(results)
    assert got[0].figures["params"] == tiny_by_hand(32, 8)[0]
    assert got[1].error["file"] == tiny and got[1].error["layer"] == "p2"


@pytest.mark.slow
def test_killed_worker_loses_no_variant_and_file_appears_whole(cluster, tiny, tmp_path):
    from archcalc.cli import main
    c, client = cluster
    out = tmp_path / "s.csv"
    sets = ["res=32,64", "width=1..6000/1"]
    set_args = [a for s in sets for a in ("--set", s)]
    killed = []

    def kill_when_half_done():
        # wait until the sweep is under way (its partial file exists), then kill one worker
        deadline = time.time() + 60
        while time.time() < deadline:
            parts = [f for f in os.listdir(tmp_path) if f.endswith(".part")]
            if parts:
                time.sleep(0.5)
                assert not out.exists()               # only the partial file so far
                pids = client.run(os.getpid)
                victim = sorted(pids.values())[0]
                os.kill(victim, signal.SIGKILL)
                killed.append(victim)
                return
            time.sleep(0.05)

    t = threading.Thread(target=kill_when_half_done)
    t.start()
    with pytest.raises(SystemExit) as e:
        main(["sweep", tiny, *set_args, "-o", str(out), "--scheduler", c.scheduler_address])
    t.join()
    assert e.value.code == 0
    assert killed, "the sweep ended before a worker could be killed"
    assert len(out.read_text().splitlines()) == 1 + 12000
    local = tmp_path / "local.csv"
    with pytest.raises(SystemExit) as e:
        main(["sweep", tiny, *set_args, "-o", str(local), "-j1"])
    assert e.value.code == 0 and out.read_text() == local.read_text()
    assert [f for f in os.listdir(tmp_path) if f.endswith(".part")] == []
    client.wait_for_workers(2, timeout=60)           # the nanny restarts it, for later tests


@pytest.mark.slow                  # waits out the connection timeout: about 10 s
def test_unreachable_scheduler_is_a_clear_error_within_seconds(tiny):
    started = time.time()
    p = run_cli("sweep", tiny, "--set", "res=32", "--scheduler", "tcp://127.0.0.1:9")
    assert p.returncode == 2 and "cannot reach the Dask scheduler" in p.stderr
    assert "Traceback" not in p.stderr and time.time() - started < 30
    p = run_cli("sweep", tiny, "--set", "res=32", "--scheduler", "tcp://127.0.0.1:9", "-F",
                "json")
    assert p.returncode == 2 and '"cannot reach the Dask scheduler' in p.stdout


def test_a_worker_or_another_service_is_not_taken_for_the_scheduler(cluster, tiny):
    import socket
    _, client = cluster
    worker = next(iter(client.scheduler_info()["workers"]))
    p = run_cli("sweep", tiny, "--set", "res=32", "--scheduler", worker)
    assert p.returncode == 2 and "is a Dask worker, not the scheduler" in p.stderr

    server = socket.socket()                 # a service that is not Dask's: answers HTTP
    server.bind(("127.0.0.1", 0))
    server.listen(1)

    def answer():
        conn, _ = server.accept()
        conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n" * 8)
        time.sleep(1)
        conn.close()
    t = threading.Thread(target=answer, daemon=True)
    t.start()
    p = run_cli("sweep", tiny, "--set", "res=32", "--scheduler",
                f"tcp://127.0.0.1:{server.getsockname()[1]}")
    server.close()
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert "does not answer as a Dask scheduler" in p.stderr or "cannot reach" in p.stderr
