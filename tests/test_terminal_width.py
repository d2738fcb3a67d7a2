"""Every view fits the terminal it is given, in a real pseudo-terminal: every line's display width
is at most the terminal's columns, and what a table left out to fit is named. A process of its
own for each run is the point here: the terminal's size is read from the pseudo-terminal's
window (TIOCSWINSZ), not from COLUMNS, as a user's shell gives it.

Expected values are counted by hand (the layer names and figures below), not taken from the
code under test."""
import concurrent.futures
import fcntl
import os
import re
import select
import struct
import subprocess
import sys
import termios

import pytest
from conftest import ROOT, run_cli
from rich.cells import cell_len

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")
LONG = "a" * 120                    # a layer name too long for any table at 60 columns


def in_terminal(args, cols, rows=50, cwd=ROOT, timeout=120):
    """Run ``python -m archcalc.cli ARGS`` with its standard streams on a pseudo-terminal of
    ``cols`` × ``rows`` (the window size set before it starts, COLUMNS and LINES unset); return
    (exit status, everything it printed, escape sequences and carriage returns removed)."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "ARCHCALC_DEBUG")}
    env["TERM"] = "xterm-256color"
    p = subprocess.Popen([sys.executable, "-m", "archcalc.cli", *map(str, args)], stdin=slave,
                         stdout=slave, stderr=slave, env=env, cwd=cwd, start_new_session=True)
    os.close(slave)
    out = b""
    try:
        while True:
            ready, _, _ = select.select([master], [], [], timeout)
            if not ready:
                p.kill()
                raise AssertionError(f"archcalc {args} printed nothing for {timeout} s")
            try:
                chunk = os.read(master, 1 << 16)
            except OSError:             # EIO: the child closed the terminal
                break
            if not chunk:
                break
            out += chunk
    finally:
        os.close(master)
        p.wait()
    text = ANSI.sub("", out.decode("utf-8")).replace("\r\n", "\n").replace("\r", "")
    return p.returncode, text


def too_wide(text, cols):
    return [(cell_len(line), line) for line in text.splitlines() if cell_len(line) > cols]


def hidden_columns(text, cols):
    """The columns a note says were hidden at ``cols`` columns (none when no note)."""
    m = re.search(rf"\(hidden at {cols} columns: ([^;)]*)[;)]", re.sub(r"\s+", " ", text))
    return [] if m is None else [c.strip() for c in m.group(1).split(",")]


@pytest.fixture(scope="module")
def long_name_spec(tmp_path_factory):
    path = tmp_path_factory.mktemp("wide") / "long.yaml"
    path.write_text(f"name: longname\ninput: 32x32x3\nlayers:\n"
                    f"  - {{op: conv, name: {LONG}, filters: 8, kernel: 3}}\n"
                    f"  - {{op: relu}}\n  - {{op: maxpool}}\n  - {{op: fc, units: 10}}\n")
    return path


SMALL = ("C3D8 R C3D8 R M FC10", "-i", "16x16x3")


def cases(long_spec):
    """(command line, widths): a command of every kind of view at the widths it is checked at."""
    return [
        (("summary", "inception_v3"), (60, 80, 120)),
        (("summary", "resnet50"), (80,)),
        (("summary", "googlenet"), (80,)),
        (("summary", "mobilenet_v3_large"), (80,)),
        (("summary", "resnet18", "--sharing", "--device", "t4"), (60,)),
        (("summary", long_spec), (60,)),
        (("estimate", "mobilenet_v2", "--device", "t4"), (60, 80, 120)),
        (("estimate", long_spec, "--device", "t4"), (60,)),
        (("sizes", "vgg16", "--range", "32..1024"), (60, 80)),
        (("diff", "resnet18", "resnet34"), (60, 80, 120)),
        (("diff", long_spec, "C3D8 R M FC10", "-i", "32x32x3"), (60,)),
        (("compare", "specs/vgg_table.md", "resnet50"), (60, 80, 120)),
        (("fit", "resnet50", "--budget", "training=24GiB", "--maximize", "batch"), (60,)),
        (("explain", long_spec), (60,)),
        (("explain", "alexnet"), (60,)),
        (("run", *SMALL, "--profile", "--iters", "2", "--warmup", "0"), (60,)),
        (("run", "lenet5", "--iters", "2", "--warmup", "0"), (60,)),
        (("validate", "vgg16"), (60,)),
        (("specs",), (60,)),
    ]


@pytest.fixture(scope="module")
def printed(long_name_spec):
    """Every case run once, two at a time: {(command line, width): (status, text)}."""
    runs = [(args, w) for args, widths in cases(long_name_spec) for w in widths]
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        got = list(pool.map(lambda aw: in_terminal(*aw), runs))
    return {(tuple(map(str, a)), w): g for (a, w), g in zip(runs, got)}


def test_every_line_fits_the_terminal(printed):
    bad = {}
    for (args, cols), (code, text) in printed.items():
        assert code == 0, (args, cols, text[-2000:])
        over = too_wide(text, cols)
        if over:
            bad[f"{' '.join(args)} at {cols}"] = (len(over), max(over)[0], max(over)[1][:140])
    assert not bad, "\n".join(f"{k}: {v}" for k, v in bad.items())


SUMMARY = ["layer", "op", "input", "output", "params", "%params", "MACs", "%MACs",
           "activations", "RF", "saved", "trainable"]


def _header(text):
    return next(line for line in text.splitlines() if re.match(r"[\s┃│]*layer\b", line))


def test_summary_names_exactly_the_columns_it_hides(printed):
    for cols in (60, 80, 120):
        _, text = printed[("summary", "inception_v3"), cols]
        shown = [w for w in re.split(r"[\s┃│]+", _header(text)) if w]
        hidden = hidden_columns(text, cols)
        assert sorted(shown + hidden) == sorted(SUMMARY), (cols, shown, hidden)
        if cols < 120:
            assert hidden, cols
        # nothing cut: fc is 2048·1000 + 1000 = 2,049,000 parameters, 2,048,000 MACs
        fc = next(line for line in text.splitlines() if line.split()[:1] == ["fc"]).split()
        assert fc.count("2.05M") == 2 or {"2,049,000", "2,048,000"} <= set(fc), (cols, fc)
        assert "27,161,264" in text                      # the totals exact
    # a training-only layer says so on a terminal too (rich would read [..] as markup)
    _, text = printed[("summary", "inception_v3"), 120]
    assert "[training only]" in text


def test_a_name_too_long_for_the_table_is_shortened_in_the_middle(printed, long_name_spec):
    _, text = printed[("summary", str(long_name_spec)), 60]
    row = next(line for line in text.splitlines() if re.match(r"\s*a+…a+\s", line))
    name = row.split()[0]
    assert name.startswith("aaa") and name.endswith("aaa") and len(name) < 60
    assert "conv" not in row or "8" in row                 # the conv's row keeps its numbers
    # 3·3·3·8 + 8 = 224 parameters; 32·32·8·27 = 221,184 MACs (short: 221.18K)
    assert "224" in row.split() and "221.18K" in row.split()
    assert "shortened" in text.replace("\n", " ")


def _cells(line):
    return [c for c in re.split(r"\s{2,}", line.strip()) if c]


def test_estimate_diff_and_compare_name_what_they_hide(printed):
    every = {"estimate": ["layer", "op", "kind", "FLOPs", "bytes", "FLOP/B", "bound", "time µs",
                          "%time"],
             "diff": ["layer", "op", "changes", "output", "params", "Δparams", "MACs", "ΔMACs",
                      "activations", "RF"]}
    for cols in (60, 80):
        _, text = printed[("estimate", "mobilenet_v2", "--device", "t4"), cols]
        head = _cells(next(line for line in text.splitlines() if line.startswith("layer")))
        hidden = hidden_columns(text, cols)
        assert hidden and sorted(head + hidden) == sorted(every["estimate"]), (cols, head, hidden)
        _, text = printed[("diff", "resnet18", "resnet34"), cols]
        head = _cells(next(line for line in text.splitlines() if line.split()[:1] == ["layer"]))
        hidden = hidden_columns(text, cols)
        assert hidden and sorted(head + hidden) == sorted(every["diff"]), (cols, head, hidden)
        # ResNet-34 adds layer3.2 … layer3.5, each two 3×3 convolutions of 256 filters over 256
        # channels and two batchnorms: 2·(9·256·256) + 2·(2·256) = 1,180,672 parameters
        assert "+1,180,672" in text
    # compare: one row per network, the figures hidden named by their labels
    short = {"weight layers": "layers", "parameters": "params", "buffers": "buffers",
             "MACs": "MACs", "FLOPs": "FLOPs", "activations": "activations",
             "peak bytes": "peak", "training bytes": "training",
             "receptive field at the output": "RF"}
    for cols in (60, 80):
        _, text = printed[("compare", "specs/vgg_table.md", "resnet50"), cols]
        head = _cells(next(line for line in text.splitlines() if "params" in line.split()))
        hidden = hidden_columns(text, cols)
        assert hidden and sorted(head + [short[h] for h in hidden]) == sorted(short.values())
        row = next(line for line in text.splitlines() if line.split()[:1] == ["D"])
        assert "138.36M" in row            # VGG16 (D): 138,357,544 parameters


def test_a_pipe_gets_whole_lines_and_every_column():
    # the counterpart: piped, nothing is hidden, shortened or broken (as the golden files hold)
    p = run_cli("estimate", "mobilenet_v2", "--device", "t4", columns="60")
    head = _cells(next(line for line in p.stdout.splitlines() if line.startswith("layer")))
    assert len(head) == 9 and "hidden" not in p.stdout
    device = next(line for line in p.stdout.splitlines() if line.startswith("device:"))
    assert device.endswith("datasheet roofline (efficiency 1)")


def test_text_helpers():
    from archcalc.views.text import fit_lines, is_number, shorten, wrap_text
    # the last index before the last part is kept (branch3x3dbl_1's 1), the head takes the rest
    assert shorten("Mixed_5b/branch3x3dbl_1/conv", 16, "middle") == "Mixed_5b/…1/conv"
    # a block's index: siblings stay apart (the transformer's twelve blocks at 80 columns)
    assert shorten("encoder.layers.encoder_layer_11/self_attention", 20, "middle") == \
        "en…11/self_attention"
    # where the index leaves no room for a head: cut in the middle as before
    assert shorten("encoder.layers.encoder_layer_11/self_attention", 18, "middle") == \
        "encoder.…attention"
    assert shorten("short", 16, "middle") == "short" and shorten("abcdef", 4) == "abc…"
    # × and µ are one column each: 12 columns exactly, not cut
    assert shorten("3×3 conv 5µs", 12) == "3×3 conv 5µs"
    text = wrap_text("alpha beta gamma delta", 11, 2)
    assert text.splitlines() == ["alpha beta", "  gamma", "  delta"]
    assert wrap_text("x" * 25, 10, 0).splitlines() == ["x" * 10, "x" * 10, "x" * 5]
    # a name may be cut across lines, a number never: it loses its indent first
    assert wrap_text("at 138,357,544", 12, 4).splitlines() == ["at", " 138,357,544"]
    assert is_number("(102,764,544") and is_number("+1.85G") and is_number("−3.1%,")
    assert not is_number("layer1.1/relu") and not is_number("conv1")
    assert wrap_text("a line that is long", None) == "a line that is long"
    # a source line and its caret keep their columns in the window shown
    src = "    " + "C3D64 R " * 10 + "C3X64 R M"
    caret = " " * src.index("C3X64") + "^"
    got = fit_lines(f"{src}\n{caret}", 40).splitlines()
    assert max(len(line) for line in got) <= 40
    assert got[0][len(got[1]) - 1:].startswith("C3X64")


def test_an_error_fits_the_terminal_and_a_pipe_gets_it_whole():
    """An error (alexnet at 224: conv1's (224 − 11)/4 + 1 = 54.25 refused) is broken between
    words to fit the terminal standard error is; piped, each of its lines is whole."""
    code, text = in_terminal(["summary", "alexnet", "-i", "224x224x3"], 60)
    assert code == 1
    assert not too_wide(text, 60), too_wide(text, 60)
    assert "54.25" in text and "alexnet:9:5: error [conv1]" in text
    piped = run_cli("summary", "alexnet", "-i", "224x224x3")
    first = piped.stderr.splitlines()[0]
    assert first.startswith("alexnet:9:5: error [conv1]") and "unseen by any window" in first


def test_the_sweep_table_fits_the_terminal_and_says_what_it_hid():
    args = ["sweep", "resnet", "--set", "res=32..100031", "--set", "batch=1..1000000",
            "--sample", "3", "--seed", "1"]
    code, text = in_terminal(args, 60)
    assert code == 0, text
    assert not too_wide(text, 60), too_wide(text, 60)
    assert "(hidden at 60 columns: Activations, Peak, Training, RF;" in text
    rows = [line for line in text.splitlines() if re.match(r"\s*\d{5,} ", line)]
    head = next(line for line in text.splitlines() if line.lstrip().startswith("#"))
    # the variant numbers (up to 11 digits: the space holds 10^11) line up under '#'
    assert len(rows) == 3 and all(len(r.split()[0]) <= len(head.split("#")[0]) + 1 for r in rows)
    assert all(r.index(r.split()[0]) + len(r.split()[0]) == head.index("#") + 1 for r in rows)
    piped = run_cli(*args)
    assert "hidden" not in piped.stdout and "RF" in piped.stdout.splitlines()[0]
