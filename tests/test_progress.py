"""Long work shows signs of life on a terminal and nowhere else (docs/usage.md, "Progress"): a
progress bar (count, rate, time left) on standard error only while it is a terminal."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time

import pytest
from conftest import _environment, run_cli, run_cli_process

NET = "C3D8 M C3D16 M FC10"


def test_a_pipe_gets_no_bar_and_json_stays_clean():
    # a real process: its standard error a pipe, as in a script or CI
    p = run_cli_process("sweep", NET, "--set", "res=32..3031", "-F", "json", "-j", "2")
    assert p.returncode == 0, p.stderr
    rows = [json.loads(line) for line in p.stdout.splitlines()]
    assert len(rows) == 3000
    assert "\x1b" not in p.stderr and "━" not in p.stderr and "\r" not in p.stderr
    assert len(p.stderr.splitlines()) == 1             # the summary


# ---------------------------------------------------------------------------------------------
# on a terminal: a pseudo-terminal as standard error (and standard output, where asked)

ESCAPES = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")           # colours and cursor moves


def on_a_terminal(args, cwd, env=None, both=False, until=None, timeout=300):
    """Run archcalc ARGS with standard error on a pseudo-terminal of 80 columns — standard
    output too where ``both``, else a pipe — and, once ``until(text)`` holds of what the
    terminal got so far, interrupt it (SIGINT). Returns (exit code, standard output ("" where
    ``both``), what the terminal got, colours and cursor moves left out)."""
    import pty
    master, slave = pty.openpty()
    p = subprocess.Popen([sys.executable, "-m", "archcalc.cli", *map(str, args)],
                         stdout=slave if both else subprocess.PIPE, stderr=slave, text=True,
                         cwd=cwd, env={**_environment(env, "80"), "TERM": "xterm"},
                         start_new_session=True)
    os.close(slave)
    seen = bytearray()

    def read():
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                return
            if not chunk:
                return
            seen.extend(chunk)
    reader = threading.Thread(target=read, daemon=True)
    reader.start()

    def text():
        return ESCAPES.sub("", bytes(seen).decode("utf-8", "replace"))
    if until is not None:
        end = time.monotonic() + timeout
        while not until(text()):
            assert p.poll() is None and time.monotonic() < end, text()[-2000:]
            time.sleep(0.1)
        os.kill(p.pid, signal.SIGINT)
    out, _ = p.communicate(timeout=timeout)
    reader.join(10)
    os.close(master)
    return p.returncode, out or "", text()


@pytest.mark.skipif(sys.platform == "win32", reason="a pseudo-terminal")
def test_a_terminal_gets_a_bar_with_count_rate_and_eta(tmp_path):
    def bar_drawn(text):
        return re.search(r"\d+/1000000 +[\d,.]+ variants/s +[\d:]+ eta +[\d:]+", text)
    code, _, term = on_a_terminal(["sweep", NET, "--set", "res=32..1000031", "-j", "2", "-o",
                                   "s.csv"], tmp_path, until=bar_drawn)
    assert code == 130, term[-2000:]
    # the bar leaves room for the ^C a terminal echoes: a bar filling the line would be pushed
    # up a line by it, and left on the screen
    drawn = [line for line in re.split(r"[\r\n]", term) if "━" in line]
    assert drawn and max(map(len, drawn)) <= 78, drawn[-1]
    assert os.listdir(tmp_path) == []


@pytest.mark.skipif(sys.platform == "win32", reason="a pseudo-terminal")
def test_json_rows_stay_clean_while_the_bar_is_on_the_terminal(tmp_path):
    code, out, term = on_a_terminal(["sweep", NET, "--set", "res=32..1031", "-F", "json"],
                                    tmp_path)
    assert code == 0, term
    assert "━" in term and "/1000" in term                 # the bar, on standard error
    rows = [json.loads(line) for line in out.splitlines()]  # standard output: JSON Lines only
    assert [r["variant"] for r in rows] == list(range(1000))


@pytest.mark.skipif(sys.platform == "win32", reason="a pseudo-terminal")
def test_rows_printed_to_the_terminal_are_the_progress(tmp_path):
    code, _, term = on_a_terminal(["sweep", NET, "--set", "res=32..1031", "-F", "csv"],
                                  tmp_path, both=True)
    assert code == 0, term
    assert "\n999,1031," in term and "━" not in term and "variants/s" not in term, term


# ---------------------------------------------------------------------------------------------
# the other long commands, on a terminal and on a pipe

@pytest.mark.skipif(sys.platform == "win32", reason="a pseudo-terminal")
def test_calibrate_shows_its_steps(tmp_path):
    pytest.importorskip("onnxruntime")
    args = ["calibrate", "--nets", "dw-probe,lenet5", "--iters", "2", "--warmup", "0",
            "--matmul", "64", "--copy-mib", "1"]
    env = {"XDG_CONFIG_HOME": str(tmp_path)}
    code, out, term = on_a_terminal(args, tmp_path, env)
    assert code == 0, term
    assert "measuring the peak" in term and re.search(r"profiling lenet5 .*3/4", term), term
    assert "wrote " in out and "\x1b" not in out          # standard output is left alone
    p = run_cli_process(*args, env=env, cwd=tmp_path)     # a pipe: no bar
    assert p.returncode == 0 and "measuring" not in p.stderr and "\x1b" not in p.stderr


@pytest.mark.skipif(sys.platform == "win32", reason="a pseudo-terminal")
def test_report_shows_its_steps(tmp_path):
    pytest.importorskip("pygal")
    code, _, term = on_a_terminal(["report", "resnet50", "lenet5", "-o", "r.html"], tmp_path)
    assert code == 0, term
    assert re.search(r"plotting resnet50 .*0/5", term) and "writing r.html" in term, term
    p = run_cli("report", "lenet5", "-o", tmp_path / "q.html")
    assert p.returncode == 0 and p.stderr == ""


@pytest.mark.skipif(sys.platform == "win32", reason="a pseudo-terminal")
def test_a_large_export_shows_every_phase(tmp_path):
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    # 82 MB of weights: past the 64 MiB from which the export shows its progress
    args = ["export", "C3D16 FC20000", "-i", "8x8x3", "-o", "big.onnx"]
    code, _, term = on_a_terminal(args, tmp_path)
    assert code == 0, term
    assert "checking big.onnx against the analyzer" in term, term
    # bytes written of the total, the rate ("?" until it is measured), the time left
    assert re.search(r"writing big\.onnx .* [\d.]+/82\.0 MB (\?|[\d.]+ [kMG]B/s) .*eta", term), term
    assert "checking the written big.onnx" in term, term
    p = run_cli_process(*args[:-1], "again.onnx", cwd=tmp_path)
    assert p.returncode == 0 and "\x1b" not in p.stderr and "writing" not in p.stderr


@pytest.mark.skipif(sys.platform == "win32", reason="a pseudo-terminal")
def test_calibrate_draws_one_bar_only(tmp_path):
    # a network of 82 MB of weights: profiling it exports it, which alone would show a bar of
    # its own; two bars at once garble the terminal
    pytest.importorskip("onnxruntime")
    args = ["calibrate", "--nets", "dw-probe,C3D16 FC20000", "-i", "16x16x3", "--iters", "1",
            "--warmup", "0", "--matmul", "64", "--copy-mib", "1"]
    code, out, term = on_a_terminal(args, tmp_path, {"XDG_CONFIG_HOME": str(tmp_path)})
    assert code == 0, term
    assert re.search(r"profiling network .*3/4", term) and "wrote " in out, term
    assert "model.onnx" not in term and "MB/s" not in term, term
