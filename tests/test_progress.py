"""Long work shows signs of life on a terminal and nowhere else (docs/usage.md, "Progress"): a
sweep says how many variants it will evaluate before it starts, refuses an absurd number of
them (more than archcalc.cli.commands.sweep.MAX_VARIANTS without --sample) unless --yes, and
draws a progress bar (count, rate, time left) on standard error only while it is a terminal."""
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
from conftest import ROOT, _environment, run_cli, run_cli_process, spawn

NET = "C3D8 M C3D16 M FC10"
HUGE = ["--set", "res=32..100031", "--set", "batch=1..1000000"]        # 10¹¹ variants


def process(args, timeout=120, **kw):
    return subprocess.run([sys.executable, "-m", "archcalc.cli", *map(str, args)],
                          capture_output=True, text=True, cwd=kw.get("cwd", ROOT),
                          env=_environment(None, "200"), timeout=timeout)


def test_an_absurd_sweep_is_refused_before_any_work(tmp_path):
    # a real process with a time limit: without the limit it would run for years
    p = process(["sweep", NET, *HUGE, "-o", tmp_path / "big.csv"])
    assert p.returncode == 2, p.stderr
    first = p.stderr.splitlines()[0]
    assert "100,000,000,000 variants" in first and "10,000,000" in first, p.stderr
    assert re.search(r"about [\d.,]+ (years|days)", p.stderr), p.stderr
    assert "--sample" in p.stderr and "--yes" in p.stderr and "Traceback" not in p.stderr
    assert os.listdir(tmp_path) == []


def test_the_limit_is_on_what_is_evaluated():
    p = run_cli("sweep", NET, "--set", "res=32..10000032")          # 10,000,001 variants
    assert p.returncode == 2 and "10,000,001 variants" in p.stderr, p.stderr
    p = run_cli("sweep", NET, "--set", "res=32..10000031", "-F", "json", "--sample", "3",
                "--seed", "1")                                       # 3 of 10,000,000
    assert p.returncode == 0, p.stderr
    p = run_cli("sweep", NET, *HUGE, "--sample", "5", "--seed", "1", "-F", "csv")
    assert p.returncode == 0 and len(p.stdout.splitlines()) == 6, p.stderr
    p = run_cli("sweep", NET, *HUGE, "--sample", "20000000", "-F", "json")
    assert p.returncode == 2
    doc = json.loads(p.stdout)                      # -F json: the error is the JSON document
    assert "20,000,000 variants" in doc["diagnostics"][0]["message"]


def test_yes_runs_past_the_limit(tmp_path):
    # started, its first rows written, then stopped: it would run for years
    p = spawn([sys.executable, "-m", "archcalc.cli", "sweep", NET, *HUGE, "--yes",
                          "-j", "2", "-o", "big.csv"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, cwd=tmp_path,
                         env=_environment(None, "200"))
    end = time.monotonic() + 120
    while not any(n.endswith(".part") and os.path.getsize(tmp_path / n) > 200
                  for n in os.listdir(tmp_path)):
        assert p.poll() is None, p.communicate()
        assert time.monotonic() < end
        time.sleep(0.05)
    os.kill(p.pid, signal.SIGINT)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 130, err
    assert "100,000,000,000 variants" in err.splitlines()[0], err


def test_the_count_is_said_up_front():
    p = run_cli("sweep", NET, "--set", "res=32,64,96", "-F", "csv")
    assert p.returncode == 0
    lines = p.stderr.splitlines()
    assert lines[0].startswith("archcalc: sweeping 3 variants on "), p.stderr
    assert lines[-1].startswith("archcalc: 3 variants in "), p.stderr
    sampled = run_cli("sweep", NET, "--set", "res=32..1031", "--sample", "10", "--seed", "2")
    assert "sweeping 10 of the 1,000 variants (--sample) on " in sampled.stderr


def test_a_large_sweep_says_how_long_it_will_take():
    p = run_cli("sweep", NET, "--set", "res=32..2031", "-F", "csv", "-j", "1")
    assert p.returncode == 0
    assert re.match(r"archcalc: sweeping 2,000 variants on 1 process; about [\d.,]+ (s|min) "
                    r"\(([\d.]+ ms|[\d.]+ µs) a variant\)", p.stderr.splitlines()[0]), p.stderr


def test_a_pipe_gets_no_bar_and_json_stays_clean():
    # a real process: its standard error a pipe, as in a script or CI
    p = run_cli_process("sweep", NET, "--set", "res=32..3031", "-F", "json", "-j", "2")
    assert p.returncode == 0, p.stderr
    rows = [json.loads(line) for line in p.stdout.splitlines()]
    assert len(rows) == 3000
    assert "\x1b" not in p.stderr and "━" not in p.stderr and "\r" not in p.stderr
    assert len(p.stderr.splitlines()) == 2             # the count up front, the summary


def test_durations_read_at_a_glance():
    from archcalc.cli.progress import duration
    assert [duration(s) for s in (0.4, 3.3, 45, 89, 600, 5400, 4 * 86400, 2e9)] == \
        ["0.4 s", "3 s", "45 s", "89 s", "10 min", "1.5 h", "4.0 days", "63 years"]


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
    p = spawn([sys.executable, "-m", "archcalc.cli", *map(str, args)],
                         stdout=slave if both else subprocess.PIPE, stderr=slave, text=True,
                         cwd=cwd, env={**_environment(env, "80"), "TERM": "xterm"})
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
    assert term.startswith("archcalc: sweeping 1,000,000 variants on 2 processes"), term
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
    assert term.startswith("archcalc: sweeping 1,000 variants on "), term
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
    # bytes written of the total in MiB as every size archcalc prints (82,000,000 + … bytes =
    # 78.2 MiB), the rate ("?" until it is measured), the time left
    assert re.search(r"writing big\.onnx .* [\d.]+/78\.2 MiB (\?|[\d.]+ [kMG]B/s) .*eta",
                     term), term
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
