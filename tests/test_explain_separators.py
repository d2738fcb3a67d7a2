"""`archcalc explain` writes a number of 10,000 and more with thousands separators in every
formula and note, whichever op built it (as a product's factors are: 224·224·64, 25,088·4096);
shorter numbers stay as the lectures write them. The numbers below are worked by hand."""
import json
import re

from conftest import run_cli

BARE = re.compile(r"(?<![\d,.×\w])-?\d{5,}(?![\d,×\w])")     # 10000 and up, no separators


def bare(out):
    """Long numbers without separators in the figures' lines (the indented ones: formulas,
    worked numbers, notes; a head line's op detail, "conv 1×1/1 p0, 12000", is the spec's own
    notation, as in summary's op column)."""
    return [n for line in out.splitlines() if line.startswith("  ") for n in BARE.findall(line)]


def explain(*args):
    p = run_cli("explain", *args)
    assert p.returncode == 0, p.stderr
    return p.stdout


def test_window_formulas_and_rounding_notes_on_a_large_input():
    out = explain("C3D8 M", "-i", "20000x20000x3")
    # conv 3×3 p1: (20000 − 3 + 2·1)/1 + 1 = 20000; max pool 2×2/2: (20000 − 2)/2 + 1 = 10000
    assert "(20,000 − 3 + 2·1)/1 + 1 = 20,000" in out
    assert "(20,000 − 2 + 2·0)/2 + 1 = 10,000" in out
    assert bare(out) == [], bare(out)
    # an odd input under floor rounding: (20001 − 2)/2 + 1 = 10000.5, rounded down to 10000
    out = explain("C3D8 M", "-i", "20001x20001x3", "--rounding", "floor")
    assert "(20,001 − 2 + 2·0)/2 + 1 = 10,000  (10,000.5 rounded down to 10,000 (floor)" in out
    assert bare(out) == [], bare(out)


def test_formulas_built_by_other_ops(tmp_path):
    spec = tmp_path / "wide.yaml"
    spec.write_text("name: wide\ninput: 4x4x3\nlayers:\n"
                    "  - {op: conv, name: a, filters: 12000, kernel: 1}\n"
                    "  - {op: conv, name: b, filters: 12000, kernel: 1, inputs: input}\n"
                    "  - {op: concat, name: cat, inputs: [a, b]}\n"
                    "  - {op: groupnorm, groups: 2}\n")
    out = explain(str(spec))
    # concat: C₁ + C₂ = 12000 + 12000 = 24000 channels
    assert "C₁ + C₂ = 12,000 + 12,000 = 24,000" in out
    # group norm over 24000 channels in 2 groups: 12000 channels a group; 2·24000 parameters
    assert "C/G = 12,000 channels" in out and "2·C = 2·24,000 = 48,000" in out
    assert bare(out) == [], bare(out)
    doc = json.loads(run_cli("explain", str(spec), "cat", "-F", "json").stdout)
    depth = next(f for f in doc["layers"][0]["figures"] if f["key"] == "out_c")
    assert depth["worked"] == "12,000 + 12,000" and depth["values"] == {"C₁": 12000, "C₂": 12000}


def test_short_numbers_stay_as_the_lectures_write_them():
    out = explain("C11D96S4P0 R M3S2", "-i", "227x227x3", "conv1")
    assert "(227 − 11 + 2·0)/4 + 1 = 55" in out
    assert "11·11·3·96 + 96 = 34,848 + 96 = 34,944" in out
