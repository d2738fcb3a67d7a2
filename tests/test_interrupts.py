"""An interrupted command ends as Ctrl-C ends it — "archcalc: interrupted", exit 130, no
traceback — and leaves no partial file: SIGINT or SIGTERM, sent to the command, to its process
group (a terminal's Ctrl-C) or to one of a sweep's worker processes.

Real processes, started in a session of their own (a signal to their group never reaches
pytest), since signals are the point."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from conftest import _environment, spawn

# a sweep long enough never to end by itself while a test waits (a million variants)
LONG = ["sweep", "C3D8 M C3D16 M FC10", "--set", "res=32..1000000", "-j", "2"]


def start(args, cwd, stdout=subprocess.PIPE):
    return spawn([sys.executable, "-m", "archcalc.cli", *map(str, args)],
                            stdout=stdout, stderr=subprocess.PIPE, text=True, cwd=cwd,
                            env=_environment(None, "200"))


def wait_for(condition, p, timeout=60.0):
    end = time.monotonic() + timeout
    while not condition():
        assert p.poll() is None, p.communicate()
        assert time.monotonic() < end, "timed out"
        time.sleep(0.02)


def partial_rows(folder):
    """Rows in the sweep's temporary file beside its output (header included)."""
    for name in os.listdir(folder):
        if name.endswith(".part"):
            try:
                with open(os.path.join(folder, name)) as fh:
                    return sum(1 for _ in fh)
            except FileNotFoundError:
                return 0
    return 0


def workers(pid):
    with open(f"/proc/{pid}/task/{pid}/children") as fh:
        return [int(k) for k in fh.read().split()]


def ended_by_interrupt(p, timeout=60):
    _, err = p.communicate(timeout=timeout)
    assert p.returncode == 130, (p.returncode, err)
    assert err.strip().splitlines()[-1] == "archcalc: interrupted", err
    assert "Traceback" not in err and "worker" not in err and "error" not in err, err
    return err


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
@pytest.mark.parametrize("to", ["command", "group"])
def test_an_interrupted_sweep_leaves_no_file(tmp_path, sig, to):
    p = start([*LONG, "-o", "big.csv"], tmp_path)
    wait_for(lambda: partial_rows(tmp_path) >= 2, p)          # the first rows are written
    (os.kill if to == "command" else os.killpg)(p.pid, sig)
    ended_by_interrupt(p)
    assert os.listdir(tmp_path) == []                          # no big.csv, no .part


@pytest.mark.skipif(not os.path.exists("/proc/self/task"), reason="Linux's /proc")
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_to_an_idle_worker_interrupts_the_sweep(tmp_path, sig):
    # rows to a pipe nobody reads: the command blocks writing them and its workers go idle,
    # waiting for work (where a SIGINT used to kill one: "a sweep worker process died")
    p = start(LONG, tmp_path)
    wait_for(lambda: len(workers(p.pid)) == 2, p)
    time.sleep(2.0)
    os.kill(workers(p.pid)[0], sig)
    time.sleep(0.5)
    p.stdout.close()                # (the rows are not the point)
    p.stdout = None
    ended_by_interrupt(p)
    assert os.listdir(tmp_path) == []


@pytest.mark.skipif(not os.path.exists("/proc/self/task"), reason="Linux's /proc")
def test_sigint_to_every_process_of_a_sweep(tmp_path):
    # `pkill -INT -f "archcalc sweep"`: the command and its workers at once
    p = start([*LONG, "-o", "big.csv"], tmp_path)
    wait_for(lambda: partial_rows(tmp_path) >= 2 and len(workers(p.pid)) == 2, p)
    for pid in [*workers(p.pid), p.pid]:
        os.kill(pid, signal.SIGINT)
    ended_by_interrupt(p)
    assert os.listdir(tmp_path) == []


def test_an_interrupt_stops_the_workers_at_once(tmp_path):
    # variants of many layers: a chunk of them takes seconds, which the command no longer
    # waits for once interrupted
    spec = tmp_path / "deep.txt"
    spec.write_text("C3D8 " + "C3D8 R " * 400 + "GAP FC10\n")
    p = start(["sweep", spec, "--set", "res=32..100000", "-j", "2", "-o", "deep.csv"], tmp_path)
    wait_for(lambda: partial_rows(tmp_path) >= 2, p, timeout=120)
    t0 = time.monotonic()
    os.kill(p.pid, signal.SIGINT)
    ended_by_interrupt(p)
    assert time.monotonic() - t0 < 3.0
    assert os.listdir(tmp_path) == ["deep.txt"]


def test_a_worker_killed_outright_is_said_as_such(tmp_path):
    # SIGKILL (the kernel's out-of-memory killer): not an interrupt; one line, exit 3
    p = start([*LONG, "-o", "big.csv"], tmp_path)
    wait_for(lambda: partial_rows(tmp_path) >= 2 and len(workers(p.pid)) == 2, p)
    os.kill(workers(p.pid)[0], signal.SIGKILL)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 3 and "Traceback" not in err, err
    assert "killed" in err and "out of memory" in err, err
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupted_export_leaves_nothing(tmp_path, sig):
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    # 400 MB of weights: long enough to be caught while written (the staging folder beside
    # the model is there from the first byte written to the last check)
    p = start(["export", "C3D16 FC100000", "-i", "8x8x3", "-o", "big.onnx"], tmp_path)
    wait_for(lambda: any(n.startswith(".big.onnx.") for n in os.listdir(tmp_path)), p)
    os.kill(p.pid, sig)
    ended_by_interrupt(p)
    assert os.listdir(tmp_path) == []


def test_a_run_stopped_by_sigterm_leaves_no_temporary_model(tmp_path):
    # archcalc run exports the spec to a temporary folder first (400 MB here)
    pytest.importorskip("onnxruntime")
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    p = spawn([sys.executable, "-m", "archcalc.cli", "run", "C3D16 FC100000", "-i",
                          "8x8x3"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         cwd=tmp_path, env=_environment({"TMPDIR": str(tmp)}, "200"))
    wait_for(lambda: any(n.startswith("archcalc-run-") for n in os.listdir(tmp)), p)
    os.kill(p.pid, signal.SIGTERM)
    ended_by_interrupt(p)
    # (importing onnxruntime leaves a .ses file of its own in TMPDIR)
    assert [n for n in os.listdir(tmp) if n.startswith("archcalc-")] == []
