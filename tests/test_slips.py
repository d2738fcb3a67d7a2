"""A new user's smaller slips, each held by a test: counts with their nouns, close-name
suggestions, notes that apply, one count of layers, adaptive pooling's field, names kept through
ONNX, no install paths in reports, huge figures, plot legends, ceil-mode pooling as PyTorch, and
drawings left to right."""
from __future__ import annotations

import pytest
from conftest import run_cli

from archcalc.errors import ArchcalcError, SourcePos
from archcalc.ops import lookup

# ---------------------------------------------------------------------------------------------
# an unknown op: a did-you-mean only for a close name, and what is known

@pytest.mark.parametrize("word", ["attention", "lstm", "transformer", "embedding", "mlp"])
def test_unknown_op_suggests_nothing_far(word):
    with pytest.raises(ArchcalcError) as e:
        lookup(word, SourcePos())
    d = e.value.diagnostics[0]
    assert d.message == f"unknown op {word!r}"
    assert "did you mean" not in (d.hint or ""), d.hint
    assert "known ops: conv, " in d.hint


@pytest.mark.parametrize("word, meant", [
    ("convv", "conv"), ("maxpol", "maxpool"), ("gloabl_avgpool", "global_avgpool"),
    ("sofmax", "softmax"), ("upsampel", "upsample"), ("Batchnorm2D", "batchnorm2d"),
    ("concatenate", "concat"), ("relu5", "relu"), ("dropuot", "dropout"),
    ("leakyrelu6", "leakyrelu")])
def test_unknown_op_suggests_a_close_name(word, meant):
    if meant.lower() == word.lower():
        assert lookup(word, SourcePos()).kind
        return
    with pytest.raises(ArchcalcError) as e:
        lookup(word, SourcePos())
    assert e.value.diagnostics[0].hint.startswith(f"did you mean {meant!r}? known ops: ")


def test_unknown_op_in_yaml(tmp_path):
    p = tmp_path / "a.yaml"
    p.write_text("input: 32x32x3\nlayers:\n  - {op: attention}\n")
    r = run_cli("summary", str(p))
    assert r.returncode == 1
    assert "unknown op 'attention'" in r.stderr
    assert "flatten'?" not in r.stderr and "did you mean" not in r.stderr


def test_words():
    from archcalc.ops.words import article, closest, counted, plural
    assert [counted(n, "node") for n in (0, 1, 2, 1000)] == \
        ["0 nodes", "1 node", "2 nodes", "1,000 nodes"]
    assert counted(1, "input row") == "1 input row" and counted(3, "input row") == "3 input rows"
    assert [plural(w) for w in ("box", "axis", "buffer", "dummy", "key", "pass")] == \
        ["boxes", "axes", "buffers", "dummies", "keys", "passes"]
    said = {"int8": "an", "uint8": "a", "fp16": "an", "fp32": "an", "bf16": "a", "8-bit": "an",
            "11×11": "an", "18": "an", "1×1": "a", "3×3": "a", "80": "an", "110": "a",
            "input": "an", "output": "an", "layer": "a", "unit": "a", "hour": "an"}
    assert {w: article(w) for w in said} == said
    assert closest("attention", ["flatten", "concat"]) is None
    assert closest("Conv", ["conv"]) == "conv"
    assert closest("x", ["bn", "fc"]) is None          # a short name is close only to itself
