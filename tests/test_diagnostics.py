"""Diagnostics like a compiler: every problem at once, warnings, exit codes, hostile input."""
import json
import os

import pytest
from conftest import SPECS, run_cli

import archcalc
from archcalc.analysis import diagnose


def test_every_parse_error_at_once():
    text = """name: multi
input: 32x32x3
layers:
  - C3D64
  - {op: conv, name: a, filters: -1}
  - {op: conv, filters: 8, kernal: 3}
  - C3Q8
  - {op: maxpool, name: b, inputs: input}
  - {op: add, inputs: [a, b]}
  - {op: add, inputs: [b, nowhere]}
"""
    with pytest.raises(archcalc.ArchcalcError) as e:
        archcalc.parse(text)
    got = [(d.pos.line, d.message.split(",")[0]) for d in e.value.diagnostics]
    # the add on line 9 uses 'a', which failed: it is checked but not reported again
    assert got == [(5, "filters must be at least 1"), (6, "conv takes no attribute 'kernal'"),
                   (7, "unknown token 'C3Q8'"),
                   (10, "input 'nowhere' is not defined before this layer")]


def test_every_analysis_error_at_once_with_recovery():
    text = """name: sem
input: 224x224x3
layers:
  - {op: conv, name: c1, filters: 96, kernel: 11, stride: 4, padding: 0}
  - {op: conv, name: c2, filters: 8, kernel: 3, groups: 3}
  - {op: maxpool, name: p, kernel: 2}
  - {op: conv, name: side, inputs: input, filters: 8, kernel: 3}
  - {op: add, name: m, inputs: [p, side]}
"""
    diags = diagnose(archcalc.parse(text))
    assert [(d.severity, d.layer) for d in diags] == [("error", "c1"), ("error", "c2"),
                                                     ("error", "m")]
    # c1 floors to 54 so that c2 and p are still checked: p = 54/2 = 27
    assert "p 27×27×8, side 224×224×8" in diags[2].message


def test_warnings():
    vgg = diagnose(archcalc.load(SPECS / "vgg16.yaml"))
    assert [d.layer for d in vgg] == ["fc1"] and "74%" in vgg[0].message
    goog = [d for d in diagnose(archcalc.load(SPECS / "googlenet.yaml")) if "ceil" in d.message]
    assert [d.layer for d in goog] == [f"pool{i}/3x3_s2" for i in (1, 2, 3, 4)]
    # AlexNet at 224 with floor rounding: (224 − 11)/4 → 54 windows, last covered pixel
    # 53·4 + 10 = 222: pixel 223 is never seen
    alex = diagnose(archcalc.parse("C11D96S4P0", input=(224, 224, 3), rounding="floor"))
    assert len(alex) == 1 and "leaves the last 1 input row" in alex[0].message
    # no warning where the dropped part is padding only (ResNet's 3×3/2 pad 1 on even inputs)
    assert diagnose(archcalc.load(SPECS / "resnet50.yaml")) == []
    early = diagnose(archcalc.parse("C3D8 M M M C3D8 C3D8", input=(8, 8, 3)))
    assert [d.layer for d in early] == ["pool3"]
    assert "2 more convolutions follow" in early[0].message


def test_validate_command_and_exit_codes(tmp_path):
    ok = run_cli("validate", "specs/resnet18.yaml")
    assert ok.returncode == 0 and "0 errors, 0 warnings" in ok.stdout
    warn = run_cli("validate", "specs/vgg16.yaml")
    assert warn.returncode == 0 and "1 warning" in warn.stdout
    assert run_cli("validate", "specs/vgg16.yaml", "--strict").returncode == 1
    bad = run_cli("validate", "C11D96S4P0 C3D8G5", "-F", "json")
    assert bad.returncode == 1
    doc = json.loads(bad.stdout)
    assert doc["errors"] == 2 and doc["diagnostics"][1]["column"] == 12
    assert run_cli("validate", "nope.yaml").returncode == 2


@pytest.mark.parametrize("content,needle", [
    (b"", "is empty"),
    (b"\xff\xfe\x00garbage", "binary file"),
    ("name: x\ninput: 8x8x3\nlayers: [C]\n# caf\xe9".encode("latin-1"), "not UTF-8"),
    (b"name: x\ninput: 8x8x3\nlayers:\n  - {op: conv, filters: 1000000000000000000000000000000}\n",
     "too large"),
    (b"name: x\ninput: 0x8x3\nlayers: [C]\n", "at least 1"),
    (b"name: x\ninput: 8x8x3\nlayers: [C3D-4]\n", "unknown token"),
    (b"name: x\ninput: 8x8x3\nlayers: ['(CR)x99999999999']\n", "more than 1,000,000 layers"),
    (b"name: x\ninput: 8x8x3\nblocks:\n  b:\n    layers: [{block: b}]\nlayers: [{block: b}]\n",
     "nest deeper than 16"),
    (b"name: x\ninput: 8x8x3\nlayers: [{op: conv, filters: 8, repeat: 99999999999}]\n",
     "repeat 99,999,999,999 is more than"),
    (b"[" * 5000 + b"]" * 5000, "nest"),
])
def test_hostile_files_get_one_clean_error(tmp_path, content, needle):
    f = tmp_path / "spec.yaml"
    f.write_bytes(content)
    p = run_cli("summary", str(f))
    assert p.returncode in (1, 2), p.stderr
    assert needle in p.stderr, p.stderr
    assert "Traceback" not in p.stderr and p.stdout == ""


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads unreadable files")
def test_unreadable_file(tmp_path):
    f = tmp_path / "spec.yaml"
    f.write_text("name: x\n")
    f.chmod(0)
    p = run_cli("summary", str(f))
    assert p.returncode == 2 and "cannot read" in p.stderr


def test_option_errors_exit_2_and_name_the_options():
    for args, needle in ((["--input", "0x0x3"], "input size must be at least 1"),
                         (["--filters", "0"], "--filters must be a whole number ≥ 1, got 0"),
                         (["--optimizer", "lion"],
                          "--optimizer must be one of sgd, momentum, adam, adamw, adafactor, "
                          "adam8bit, got 'lion'")):
        p = run_cli("summary", "C", *args)
        assert p.returncode == 2 and p.stderr.startswith("<options>: error:"), p.stderr
        assert needle in p.stderr


def test_a_bad_volume_in_a_spec_is_a_spec_problem(tmp_path):
    f = tmp_path / "v.yaml"
    f.write_text("name: v\ninput: 224x224\nlayers: [C]\n")
    p = run_cli("summary", str(f))
    assert p.returncode == 1 and f"{f}:2:8: error: an input volume is H×W×C" in p.stderr


def test_the_layer_limit_is_exact(monkeypatch):
    import archcalc.graph
    import archcalc.spec.text
    monkeypatch.setattr(archcalc.graph, "MAX_LAYERS", 10)
    monkeypatch.setattr(archcalc.spec.text, "MAX_LAYERS", 10)
    assert len(archcalc.parse("(CR)x5").layers) == 1 + 10          # exactly the limit: fine
    with pytest.raises(archcalc.ArchcalcError, match="more than 10 layers"):
        archcalc.parse("(CR)x5 C")
    with pytest.raises(archcalc.ArchcalcError, match="more than 10 layers"):
        archcalc.parse("name: x\ninput: 8x8x3\nlayers: ['(CR)x5', C]\n")


def test_ceil_warning_only_where_a_window_is_added():
    # 7×7, 2×2/2, pad 1: (7 + 2 − 2)/2 + 1 = 4.5; ceil would give 5 windows, but the 5th would
    # start at padded offset 8 = n + p, in the right padding only: dropped, so the output is 4
    net = archcalc.parse("name: c\ninput: 7x7x1\nlayers:\n  - {op: maxpool, kernel: 2, padding: 1, "
                         "rounding: ceil}\n")
    assert archcalc.analyze(net).layers[-1].output == (4, 4, 1)
    assert diagnose(net) == []


def test_pool_padding_is_checked_before_the_size():
    with pytest.raises(archcalc.ArchcalcError) as e:
        archcalc.analyze(archcalc.parse("M3S2P2", input=(8, 8, 1)))
    assert "pooling padding (2×2) must be at most half the window (3×3)" in str(e.value)
    assert len(e.value.diagnostics) == 1
