"""Budgets (archcalc/budgets.py) and validate's budget gates, with figures counted by hand."""
import json

import pytest
from design_helpers import cli

import archcalc
from archcalc.cli.guard import exit_code
from archcalc.design.budgets import amount, parse_budget

# "C3D8 FC10" on 8×8×3: conv 3·3·3·8 + 8 = 224 parameters, fc 8·8·8·10 + 10 = 5,130: 5,354.
# Activations while conv1 runs: the input 8·8·3 = 192 and its output 8·8·8 = 512 elements
# (704 · 4 B = 2,816 B, the peak); MACs 8·8·8·27 + 512·10 = 18,944.
NET = ("C3D8 FC10", "-i", "8x8x3")


@pytest.mark.parametrize("text, kind, want", [
    ("5M", "count", (5_000_000, "count")), ("600M", "count", (600_000_000, "count")),
    ("1.5K", "count", (1500, "count")), ("2g", "count", (2 * 10**9, "count")),
    ("123", "count", (123, "count")), ("24GiB", "bytes", (24 * 2**30, "bytes")),
    ("24GB", "bytes", (24 * 10**9, "bytes")), ("1 MiB", "bytes", (2**20, "bytes")),
    ("512KB", "bytes", (512_000, "bytes")), ("100", "bytes", (100, "bytes")),
    ("7B", "bytes", (7, "bytes")), ("10M", None, (10**7, "count")),
    ("10MiB", None, (10 * 2**20, "bytes")),
    # the binary multiplier alone is bytes (the gate grammar's 10Mi, now one grammar)
    ("10Mi", "bytes", (10 * 2**20, "bytes")), ("10mi", None, (10 * 2**20, "bytes")),
    # exact, not a float just below it
    ("1.5T", "count", (1_500_000_000_000, "count")), ("2.5KiB", "bytes", (2560, "bytes"))])
def test_amounts(text, kind, want):
    assert amount(text, kind, "--x") == want


@pytest.mark.parametrize("text, kind, needle", [
    ("24GB", "count", "a count is wanted"), ("5M", "bytes", "no byte unit"),
    ("3Mi", "count", "a count is wanted"), ("24XB", "bytes", "unknown unit 'XB'"),
    # a lowercase b is a bit: 1Gb must not silently mean a gigabyte
    ("24Gb", "bytes", "in bits"), ("1Gb", None, "in bits"), ("8b", "bytes", "in bits"),
    ("lots", None, "not an amount"), ("", "count", "not an amount")])
def test_amount_errors_name_the_accepted_units(text, kind, needle):
    with pytest.raises(archcalc.ArchcalcError) as e:
        amount(text, kind, "--x")
    assert exit_code(e.value) == 2 and needle in e.value.render()
    if "unknown unit" in needle:
        assert ("KiB" in e.value.render()) == (kind != "count")
        assert "K, M, G" in e.value.render() or kind == "bytes"


def test_budget_names_and_aliases():
    assert parse_budget("peak_training=24GiB").figure.key == "training_bytes"
    assert parse_budget("training=1GB").limit == 10**9
    assert parse_budget("activations=10M").figure.key == "activations"
    assert parse_budget("activations=10MiB").figure.key == "activation_bytes"
    assert parse_budget("peak=1GiB").figure.key == "peak_bytes"
    with pytest.raises(archcalc.ArchcalcError) as e:
        parse_budget("parms=5M")
    assert "did you mean 'params'" in e.value.render()
    with pytest.raises(archcalc.ArchcalcError) as e:
        parse_budget("params")
    assert "NAME=AMOUNT" in e.value.render()
    report = archcalc.analyze(archcalc.parse(NET[0], input="8x8x3"))
    for name in ("params", "macs", "peak", "training", "memory", "flops", "param_bytes"):
        b = parse_budget(f"{name}=1")
        assert isinstance(b.value(report), int)


def test_validate_gates_by_hand(capsys):
    code, out, _ = cli(capsys, "validate", *NET, "--max-params", "5354", "--max-macs", "18944",
                       "--max-peak", "2816B")
    assert code == 0 and "0 errors" in out
    code, out, _ = cli(capsys, "validate", *NET, "--max-params", "5K")
    assert code == 1
    assert "parameters 5,354" in out and "5K" in out and "354 over" in out and "(+7.1%)" in out
    assert "fc1" in out                 # the largest layer by parameters
    code, out, _ = cli(capsys, "validate", *NET, "--max-peak", "2815B")
    assert code == 1 and "1 B over" in out and "[conv1]" in out
    code, out, _ = cli(capsys, "validate", *NET, "--max-macs", "18943")
    assert code == 1 and "MACs per image 18,944" in out


def test_validate_budget_json_and_batch(capsys):
    # batch 2, bf16: the peak is 704 elements · 2 images · 2 bytes = 2,816 B; activations per
    # image: input 192 + conv 512 + fc 10 = 714 elements
    code, out, _ = cli(capsys, "validate", *NET, "--max-peak", "2816B", "-b", "2", "--dtype",
                       "bf16", "--max-activations", "1K", "-F", "json")
    doc = json.loads(out)
    assert code == 0 and doc["ok"] is True
    got = {b["budget"]: (b["value"], b["ok"]) for b in doc["budgets"]}
    # budgets are named by the figures' keys (archcalc.analysis.figures), whatever alias was used
    assert got == {"peak_bytes": (2816, True), "activations": (714, True)}
    code, out, _ = cli(capsys, "validate", *NET, "--max-activations", "700", "-F", "json")
    doc = json.loads(out)
    errors = [d for d in doc["diagnostics"] if d["severity"] == "error"]
    assert code == 1 and len(errors) == 1 and "14 over" in errors[0]["message"]
    # as bytes: 714 elements · 4 B = 2,856 B per batch of 1
    code, out, _ = cli(capsys, "validate", *NET, "--max-activations", "2856B")
    assert code == 0


def test_validate_budget_errors_are_usage_errors(capsys):
    code, _, err = cli(capsys, "validate", *NET, "--max-peak", "1G")
    assert code == 2 and "GiB" in err and "GB" in err
    code, out, _ = cli(capsys, "validate", *NET, "--max-params", "3MiB", "-F", "json")
    assert code == 2 and "count" in json.loads(out)["diagnostics"][0]["message"]
