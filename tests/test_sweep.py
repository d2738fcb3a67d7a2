"""archcalc sweep (the design space's many variants): the space (values, exact ranges, sampling),
evaluation in order on processes, figures equal to a plain load + analyze, --pareto, the outputs and
bad input.

Figures are derived by hand for TINY: 3×3 same-padded convolutions of width w and 2w, each
followed by a 2×2/2 max pool, then a dense layer of 10 units, on a res×res×3 input."""
import csv
import io
import json
import os
import sys

import pytest
from conftest import run_cli

import archcalc
from archcalc.cli.guard import exit_code
from archcalc.design.sweep import KEYS, Space, front, parse_axis, parse_objectives, plan, sweep
from archcalc.design.sweep.engine import Result
from archcalc.design.sweep.space import parse_range
from archcalc.errors import ArchcalcError

TINY = """name: tiny
input: 32x32x3
params: {width: 8}
layers:
  - {op: conv, name: c1, filters: "${width}", kernel: 3, padding: 1}
  - {op: maxpool, name: p1, kernel: 2, stride: 2}
  - {op: conv, name: c2, filters: "${2 * width}", kernel: 3, padding: 1}
  - {op: maxpool, name: p2, kernel: 2, stride: 2}
  - {op: fc, name: fc, units: 10}
"""


def tiny_by_hand(res: int, w: int):
    """(params, MACs, receptive field at the output) of TINY, by hand; None where a pool would
    halve an odd size (archcalc's default rounding refuses it)."""
    if res % 4:
        return None
    q = res // 4
    params = (27 * w + w) + (9 * w * 2 * w + 2 * w) + (q * q * 2 * w * 10 + 10)
    macs = res * res * w * 27 + (res // 2) ** 2 * 2 * w * 9 * w + q * q * 2 * w * 10
    rf = 3 + 1 + 2 * 2 + 2        # conv 3, pool +1 (jump 2), conv +2·2, pool +1·2
    return params, macs, rf


@pytest.fixture
def tiny(tmp_path):
    p = tmp_path / "tiny.yaml"
    p.write_text(TINY)
    return str(p)


def typed(name, text):
    from archcalc.settings import parse_assignment
    return parse_assignment(f"{name}={text}")[1]


# ---------------------------------------------------------------------------------------------
# the space

def test_ranges_are_exact_and_inclusive():
    assert list(parse_range("w", "0.5..1.0/0.25")) == [0.5, 0.75, 1.0]
    assert list(parse_range("w", "0.1..0.3/0.1")) == [0.1, 0.2, 0.3]    # floats would miss 0.3
    assert list(parse_range("res", "160..320/32")) == [160, 192, 224, 256, 288, 320]
    assert all(type(v) is int for v in parse_range("res", "160..320/32"))
    assert list(parse_range("res", "1..3")) == [1, 2, 3]                # step 1 by default
    assert list(parse_range("res", "1..10/4")) == [1, 5, 9]             # never past the end
    r = parse_range("x", "0..1000000000000/1")
    assert len(r) == 10 ** 12 + 1 and r[-1] == 10 ** 12                 # nothing expanded


def test_values_lists_and_brackets():
    assert parse_axis("width=0.5,0.75,1.0", typed).values == [0.5, 0.75, 1.0]
    assert parse_axis("depth=[2,2,2,2],[3,4,6,3]", typed).values == [[2, 2, 2, 2], [3, 4, 6, 3]]
    assert parse_axis("dtype=fp32,bf16", typed).values == ["fp32", "bf16"]
    assert parse_axis("res=224", typed).values == [224]


@pytest.mark.parametrize("text, words", [
    ("res=320..160/32", "no values"),
    ("res=1..10/-3", "must be positive"),
    ("res=160..320/0", "cannot be zero"),
    ("res=1..x/2", "a number"),
    ("width=0.5,,1.0", "empty value"),
    ("width", "name=VALUES"),
])
def test_bad_ranges_are_usage_errors(text, words):
    with pytest.raises(ArchcalcError) as e:
        parse_axis(text, typed)
    assert exit_code(e.value) == 2 and words in e.value.diagnostics[0].message


def test_product_order_last_axis_fastest():
    s = Space([parse_axis("a=1,2", typed), parse_axis("b=x,y,z", typed)])
    assert len(s) == 6
    assert [s[i] for i in range(6)] == [{"a": a, "b": b} for a in (1, 2) for b in "xyz"]


def test_sample_is_distinct_seeded_and_complete():
    s = Space([parse_axis("a=0..99/1", typed), parse_axis("b=0..9/1", typed)])
    draws = list(s.indices(sample=300, seed=7))
    assert len(draws) == len(set(draws)) == 300 and all(0 <= i < 1000 for i in draws)
    assert draws == list(s.indices(sample=300, seed=7))
    assert draws != list(s.indices(sample=300, seed=8))
    assert sorted(s.indices(sample=999, seed=1)) != list(range(999))    # not the first 999
    from archcalc.design.sweep.space import _draws
    whole = list(_draws(1000, 1000, 3))
    assert sorted(whole) == list(range(1000))                            # a permutation


# ---------------------------------------------------------------------------------------------
# results

def test_figures_by_hand_over_res_and_width(tiny):
    got = list(sweep(tiny, ["res=28..36/2", "width=4,8"], jobs=1))
    assert [(r.settings["res"], r.settings["width"]) for r in got] == \
        [(res, w) for res in (28, 30, 32, 34, 36) for w in (4, 8)]
    assert [r.variant for r in got] == list(range(10))
    for r in got:
        want = tiny_by_hand(r.settings["res"], r.settings["width"])
        if want is None:
            assert r.figures is None and r.error["layer"] == "p2"     # 15 or 17 halved
        else:
            params, macs, rf = want
            figures = r.figures
            assert (figures["params"], figures["macs"], figures["rf"]) == (params, macs, rf)
            assert r.error is None


def test_results_equal_plain_load_and_analyze_on_processes(tiny):
    """Two processes, chunks of a few variants: in order, and each the figures a plain
    archcalc.load(set=...) + analyze gives (the workers reuse composed YAML; this checks it
    changes nothing)."""
    sets = ["res=32,64", "width=4,8,16", "batch=1,4", "dtype=fp32,bf16"]
    got = list(sweep(tiny, sets, jobs=2))
    assert [r.variant for r in got] == list(range(24))
    for r in got:
        s = r.settings
        net = archcalc.load(tiny, set={"res": s["res"], "width": s["width"]})
        rep = archcalc.analyze(net, batch=s["batch"], dtype=s["dtype"])
        t = rep.totals
        assert [r.figures[k] for k in KEYS[:5]] == [t.params, t.macs, t.activations,
                                                    t.peak_bytes, t.training_bytes]


def test_resnet50_variant_equals_plain_run():
    [r] = sweep("resnet50", ["res=160", "batch=8", "optimizer=sgd"], jobs=1)
    net = archcalc.load(os.path.join(os.path.dirname(__file__), "..", "specs", "resnet50.yaml"),
                        input=(160, 160, 3))
    t = archcalc.analyze(net, batch=8, optimizer="sgd").totals
    assert [r.figures[k] for k in KEYS[:5]] == [t.params, t.macs, t.activations, t.peak_bytes,
                                                t.training_bytes]


RESNET = os.path.join(os.path.dirname(__file__), "..", "specs", "resnet.yaml")


def _network(net):
    """What a network is, layer by layer, and what the spec made of it beside its layers."""
    return ([tuple(layer) for layer in net.layers], net.name, net.input, net.params,
            net.warnings, net.block_outputs, net.declared_outputs, net.size_dependent,
            net.settings)


def test_resnet_variants_built_through_one_design_equal_fresh_loads():
    """315 width × res variants of the parameterised ResNet-50, in sweep order, built from one
    Design (the YAML composed, its expressions compiled and its layers planned once; attributes
    validated once per distinct value and shared): every one, layer by layer, the network a
    fresh archcalc.load(set=...) makes, and every 8th analyzed alike."""
    from archcalc.design.parameters import Design
    from archcalc.settings import resolve
    design = Design(RESNET, resolve())
    widths = [round(0.5 + 0.05 * k, 2) for k in range(21)]
    n = 0
    for width in widths:
        for res in range(96, 321, 16):
            s = {"width": width, "res": res}
            built, fresh = design.build(s), archcalc.load(RESNET, set=s)
            assert _network(built) == _network(fresh), s
            if n % 8 == 0:
                assert archcalc.analyze(built) == archcalc.analyze(fresh), s
            n += 1
    assert n == 315
    # the speed of it: equal values share one validated attributes dict across variants
    a, b = design.build({"width": 0.75, "res": 160}), design.build({"width": 0.75, "res": 224})
    assert all(x.attrs is y.attrs for x, y in zip(a.layers[1:], b.layers[1:]))


def test_a_design_reports_each_variant_as_a_fresh_load_does(tmp_path):
    """Variants that fail (a width the spec refuses, then a good one, then the bad one again)
    give a Design the errors a fresh load gives, each time: nothing of a failure is kept."""
    from archcalc.design.parameters import Design
    from archcalc.settings import resolve
    p = tmp_path / "s.yaml"
    p.write_text("name: s\nparams: {w: 8, k: 3}\ninput: 16x16x8\nblocks:\n  b:\n"
                 "    params: {f: null}\n    layers:\n"
                 "      - {op: conv, name: c, filters: $f, kernel: $k, groups: 4}\n"
                 "      - {op: conv, name: d, filters: $f, kernel: 1, when: \"${in.c != f}\"}\n"
                 "layers:\n  - {block: b, name: \"b{i}\", repeat: 3, f: \"${w * (i + 1)}\"}\n"
                 "  - {op: maxpool, kernel: $k}\n")
    design = Design(str(p), resolve())
    for s in ({"w": 6}, {"w": 8}, {"w": 6}, {"w": 8, "k": 2}, {"w": 8, "k": 1.5}, {"w": 8}):
        try:
            built = _network(design.build(s))
        except ArchcalcError as exc:
            built = [d.to_dict() for d in exc.diagnostics]
        try:
            fresh = _network(archcalc.load(str(p), set=s))
        except ArchcalcError as exc:
            fresh = [d.to_dict() for d in exc.diagnostics]
        assert built == fresh, s


def test_undeclared_parameter_is_one_usage_error(tiny):
    with pytest.raises(ArchcalcError) as e:
        plan(tiny, ["widht=4,8"])
    assert exit_code(e.value) == 2 and "width" in e.value.diagnostics[0].hint


# ---------------------------------------------------------------------------------------------
# pareto

def _r(seq, **figures):
    return Result(seq, {}, {k: figures.get(k) for k in KEYS}, None, False, seq)


def test_pareto_on_a_hand_made_set():
    pts = [_r(0, macs=10, params=5, rf=100),    # dominated by 3 (3 is ≤ everywhere, rf larger)
           _r(1, macs=5, params=10, rf=50),     # best MACs with params 10: stays
           _r(2, macs=20, params=1, rf=10),     # fewest params: stays
           _r(3, macs=10, params=5, rf=120),    # stays
           _r(4, macs=10, params=5, rf=120),    # equal to 3: dominates neither, stays
           _r(5, macs=30, params=30, rf=130),   # the largest RF: stays
           _r(6, macs=30, params=30, rf=None)]  # global RF: on no front
    objectives = parse_objectives("macs,params,-rf", KEYS)
    assert [r.seq for r in front(pts, objectives)] == [1, 2, 3, 4, 5]
    assert [r.seq for r in front(pts, parse_objectives("macs", KEYS))] == [1]
    assert [r.seq for r in front(pts, parse_objectives("params,-rf", KEYS))] == [2, 3, 4, 5]


def test_pareto_names():
    assert parse_objectives("peak,-training", KEYS) == [("peak_bytes", False),
                                                  ("training_bytes", True)]
    assert parse_objectives("-res", KEYS, ["res"]) == [("res", True)]
    with pytest.raises(ArchcalcError) as e:
        parse_objectives("mac", KEYS)
    assert exit_code(e.value) == 2 and "macs" in e.value.diagnostics[0].hint


# ---------------------------------------------------------------------------------------------
# the command

def test_cli_csv_rows_in_order_with_invalid_ones(tiny):
    p = run_cli("sweep", tiny, "--set", "res=28..36/4", "--set", "width=4,8", "-F", "csv",
                "-j", "2")
    assert p.returncode == 0, p.stderr
    rows = list(csv.DictReader(io.StringIO(p.stdout)))
    assert [(int(r["res"]), int(r["width"])) for r in rows] == \
        [(res, w) for res in (28, 32, 36) for w in (4, 8)]
    for r in rows:
        params, macs, rf = tiny_by_hand(int(r["res"]), int(r["width"]))
        assert (int(r["params"]), int(r["macs"]), int(r["rf"])) == (params, macs, rf)
    assert "6 variants" in p.stderr


def test_cli_json_lines_list_invalid_variants(tiny):
    p = run_cli("sweep", tiny, "--set", "res=30..32/2", "-F", "json", "-j", "1")
    assert p.returncode == 0, p.stderr
    docs = [json.loads(line) for line in p.stdout.splitlines()]
    assert [d["settings"] for d in docs] == [{"res": 30}, {"res": 32}]
    assert docs[0]["ok"] is False and docs[0]["error"]["layer"] == "p2"
    assert docs[0]["params"] is None
    assert docs[1]["ok"] is True and docs[1]["params"] == tiny_by_hand(32, 8)[0]
    assert "1 invalid" in p.stderr


def test_cli_pareto_keeps_front_and_invalid_rows(tiny):
    # width up: more params and MACs, the same RF; res up: more MACs and params (fc)
    p = run_cli("sweep", tiny, "--set", "res=30,32,64", "--set", "width=4,8", "-F", "csv",
                "--pareto", "macs,-width", "-j", "1")
    assert p.returncode == 0, p.stderr
    rows = list(csv.DictReader(io.StringIO(p.stdout)))
    # res 30 is invalid (listed); of the valid ones, res 32 has the fewest MACs at each width
    assert [(r["res"], r["width"], r["ok"]) for r in rows] == [
        ("30", "4", "false"), ("30", "8", "false"), ("32", "4", "true"), ("32", "8", "true")]


def test_cli_table(tiny):
    p = run_cli("sweep", tiny, "--set", "res=32,30", "-j", "1")
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert lines[0].split()[:3] == ["#", "res", "Params"]
    assert lines[1].split()[:2] == ["0", "32"] and lines[1].split()[-1] == "10"
    assert lines[2].split()[:3] == ["1", "30", "invalid"] and "[p2]" in lines[2]


def test_cli_output_file_is_written_whole(tiny, tmp_path):
    out = tmp_path / "s.csv"
    p = run_cli("sweep", tiny, "--set", "res=32,64", "-o", str(out), "-j", "1")
    assert p.returncode == 0, p.stderr
    assert p.stdout == "" and "wrote" in p.stderr
    assert len(out.read_text().splitlines()) == 3
    assert sorted(f.name for f in tmp_path.iterdir()) == ["s.csv", "tiny.yaml"]   # no leftovers


def test_an_unfinished_output_file_leaves_the_old_one(tmp_path):
    from archcalc.files import AtomicFile
    out = tmp_path / "s.csv"
    out.write_text("old\n")
    f = AtomicFile(str(out))
    f.write("half of it")
    assert out.read_text() == "old\n"
    f.abort()
    assert out.read_text() == "old\n" and [p.name for p in tmp_path.iterdir()] == ["s.csv"]


def test_cli_output_in_a_missing_folder(tiny, tmp_path):
    p = run_cli("sweep", tiny, "--set", "res=32", "-o", str(tmp_path / "no" / "s.csv"))
    assert p.returncode == 2 and "does not exist" in p.stderr and "Traceback" not in p.stderr


def test_cli_every_variant_invalid_exits_1_naming_the_first(tiny, tmp_path):
    p = run_cli("sweep", tiny, "--set", "res=30,34,38,42,46", "-F", "csv", "-j", "1")
    assert p.returncode == 1
    assert len(p.stdout.splitlines()) == 6                    # every variant is still listed
    assert p.stderr.count("error") == 3 and "variant 0 (res=30)" in p.stderr


@pytest.mark.parametrize("args, words", [
    (["--set", "res=64..32/16"], "no values"),
    (["--set", "res=32..64/0"], "cannot be zero"),
    (["--set", "widht=4"], "declares no parameter"),
    (["--set", "dtype=fp32,fp64"], "one of fp32"),          # the second value: still up front
    (["--set", "batch=0..4"], "whole number ≥ 1"),
    (["--set", "res=32", "--pareto", "mac"], "no figure"),
    (["--set", "res=32", "--seed", "3"], "--seed applies"),
    (["--set", "res=32", "-F", "xml"], "--format"),
])
def test_cli_bad_input_is_json_under_format_json(tiny, args, words):
    p = run_cli("sweep", tiny, *args, "-F", "json") if "-F" not in args else \
        run_cli("sweep", tiny, *args)
    assert p.returncode == 2 and "Traceback" not in p.stderr + p.stdout
    text = p.stdout if "-F" not in args else p.stderr
    if "-F" not in args:
        doc = json.loads(p.stdout)
        assert doc["ok"] is False and words in doc["diagnostics"][0]["message"]
    else:
        assert words in text


def test_cli_sample_draws_distinct_variants(tiny):
    p = run_cli("sweep", tiny, "--set", "res=32..128/32", "--set", "width=1..8",
                "--sample", "5", "--seed", "11", "-F", "json", "-j", "2")
    assert p.returncode == 0, p.stderr
    docs = [json.loads(line) for line in p.stdout.splitlines()]
    assert len({d["variant"] for d in docs}) == 5
    for d in docs:     # a variant's number gives its settings in the product (width fastest)
        res, w = d["settings"]["res"], d["settings"]["width"]
        assert d["variant"] == (res // 32 - 1) * 8 + (w - 1)
        assert d["params"] == tiny_by_hand(res, w)[0]


def test_cli_reads_the_spec_from_stdin_on_processes():
    p = run_cli("sweep", "-", "--set", "res=32,64", "-F", "csv", "-j", "2", input_text=TINY)
    assert p.returncode == 0, p.stderr
    rows = list(csv.DictReader(io.StringIO(p.stdout)))
    assert [int(r["params"]) for r in rows] == [tiny_by_hand(32, 8)[0], tiny_by_hand(64, 8)[0]]


def test_cli_scheduler_without_dask_says_to_install_the_extra(tiny, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)   # as where it is not installed
    p = run_cli("sweep", tiny, "--set", "res=32", "--scheduler", "tcp://127.0.0.1:9")
    assert p.returncode == 2 and "archcalc[cluster]" in p.stderr
    assert "Traceback" not in p.stderr


def test_cli_html_page_of_the_front(tiny, tmp_path):
    pytest.importorskip("pygal", reason="the page's plot needs pygal (archcalc[report])")
    import re
    out = tmp_path / "front.html"
    p = run_cli("sweep", tiny, "--set", "res=30,32,64", "--set", "width=4,8", "--pareto",
                "macs,-width", "-o", str(out), "-j", "1")
    assert p.returncode == 0, p.stderr
    page = out.read_text()
    # the front (as the CSV test finds it): res 32 at widths 4 and 8; res 30 is invalid
    rows = re.findall(r"<tr><td>(\d+)</td><td class=n>(\d+)</td><td class=n>(\d+)</td>", page)
    assert rows == [("2", "32", "4"), ("3", "32", "8")]
    assert page.count("<circle") == 4          # 2 on the front + the 2 other valid variants
    assert "Invalid variants" in page and "variant 0: res=30 width=4" in page
    assert "http" not in page and "//" not in page.replace("<!--", "")


def test_the_front_page_axis_shows_float_ticks():
    """pygal hands the axis formatter floats (tick values): they read as the counts do."""
    from archcalc.views.report.front import _shown
    assert _shown("macs", 150000.0) == _shown("macs", 150000) == "150.00K"
    assert _shown("peak_bytes", 2048.0) == _shown("peak_bytes", 2048)


def test_cli_html_needs_pareto(tiny, tmp_path):
    p = run_cli("sweep", tiny, "--set", "res=32", "-o", str(tmp_path / "f.html"))
    assert p.returncode == 2 and "needs --pareto" in p.stderr


def test_cli_every_variant_invalid_under_json_keeps_stdout_json_lines(tiny):
    p = run_cli("sweep", tiny, "--set", "res=30,34", "-F", "json", "-j", "1")
    assert p.returncode == 1
    docs = [json.loads(line) for line in p.stdout.splitlines()]
    assert [d["variant"] for d in docs] == [0, 1] and not any(d["ok"] for d in docs)
    assert "variant 0 (res=30)" in p.stderr and "variant 1 (res=34)" in p.stderr


def test_no_set_is_one_variant_with_the_defaults(tiny):
    [r] = sweep(tiny, [], jobs=1)
    assert r.settings == {} and r.figures["params"] == tiny_by_hand(32, 8)[0]


def test_device_adds_the_predicted_latency(tiny):
    """--device: each variant's latency_ms is archcalc estimate's total for that variant."""
    from archcalc.latency import devices, model
    p = run_cli("sweep", "mobilenet_v2", "--set", "res=160,224", "--device", "t4", "-F", "csv",
                "-j", "1")
    assert p.returncode == 0, p.stderr
    rows = list(csv.DictReader(io.StringIO(p.stdout)))
    for row in rows:
        net = archcalc.load("specs/mobilenet_v2.yaml", set={"res": int(row["res"])})
        want = model.estimate(archcalc.analyze(net), devices.get("t4")).time_s * 1e3
        assert float(row["latency_ms"]) == pytest.approx(want, rel=1e-12)
    assert float(rows[0]["latency_ms"]) < float(rows[1]["latency_ms"])
    p = run_cli("sweep", "mobilenet_v2", "--set", "res=160", "--device", "t9")
    assert p.returncode == 2 and "did you mean t4?" in p.stderr
    p = run_cli("sweep", "mobilenet_v2", "--set", "res=160")
    assert "Latency" not in p.stdout                 # only with a device


def test_an_onnx_model_and_the_front_of_invalid_results(tmp_path):
    """A model sweeps over the built-ins; front() of results with invalid ones; --pareto on a
    parameter whose values are lists is refused (a newcomer's review)."""
    pytest.importorskip("onnx")
    from archcalc.exporters import onnx as ox
    path = str(tmp_path / "m.onnx")
    ox.export(archcalc.load("specs/lenet5.yaml"), path, weights="none", progress=False)
    p = run_cli("sweep", path, "--set", "dtype=fp32,fp16", "-F", "csv", "-j", "1")
    assert p.returncode == 0, p.stderr
    rows = list(csv.DictReader(io.StringIO(p.stdout)))
    assert [r["params"] for r in rows] == ["61706", "61706"]            # LeNet-5's
    spec = tmp_path / "s.yaml"
    spec.write_text("name: s\ninput: 16x16x3\nparams: {n: 2}\nlayers:\n"
                    "  - {op: conv, filters: 4, kernel: 3, padding: 0}\n"
                    "  - {op: maxpool, kernel: '${n}'}\n")
    got = list(sweep(str(spec), ["n=2,3,7"], jobs=1))
    # the conv gives 14×14: pools of 2 and 7 divide it, 3 leaves 2 rows unseen (covered)
    assert [r.figures is None for r in got] == [False, True, False]
    assert [r.settings["n"] for r in front(got, parse_objectives("activations", KEYS))] == [7]
    spec.write_text("name: s\ninput: 16x16x3\nparams: {d: [2]}\nlayers:\n"
                    "  - {op: conv, filters: 4, kernel: 3, padding: 0}\n"
                    "  - {op: maxpool, kernel: '${d[0]}'}\n")
    p = run_cli("sweep", str(spec), "--set", "d=[2],[7]", "--pareto", "macs,-d")
    assert p.returncode == 2 and "are not numbers" in p.stderr, p.stderr
