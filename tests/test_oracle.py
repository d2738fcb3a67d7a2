"""Random valid networks (conv/pool/fc chains and small DAGs with random kernels, strides, paddings,
dilations, groups, channels; activations, norms, broadcast merges; the channel and resampling ops:
splits, slices, shuffles, upsampling, transposed convolutions, pads and crops; and, in a second
run, the token and attention ops): the volumes
onnxruntime computes when it runs the exported graph equal the analyzer's, and the exported
initializers hold exactly the analyzer's parameter count. Bounded here; benchmarks/oracle.py runs
1,000 networks."""
import functools
import random

import pytest
from conftest import SPECS
from netgen import NEW_OPS, TOKEN_OPS, random_valid
from oracle import disagreements

import archcalc

SEEDS = range(40)


@functools.cache
def _network(seed):
    return random_valid(random.Random(f"oracle-{seed}"), new_ops=True)


@pytest.mark.parametrize("seed", SEEDS)
def test_random_network_agrees_with_onnxruntime(seed):
    text, net, report = _network(seed)
    assert disagreements(net, report) == [], text


def test_the_bounded_run_draws_every_new_op():
    # the 40 networks above hold each channel and resampling op, a split whose parts later
    # layers read, a crop to another layer's size, and both modes of upsample and pad
    layers = [layer for seed in SEEDS for layer in _network(seed)[1].layers]
    ops = {layer.op for layer in layers}
    assert {"slice", "shuffle", "upsample", "conv_transpose", "pad", "crop"} <= ops
    assert set(NEW_OPS) - {"split"} <= ops
    parts = {layer.name for layer in layers
             if layer.op == "slice" and layer.attrs["part"] is not None}
    assert any(set(layer.inputs) & parts for layer in layers if layer.op != "slice")
    assert any(layer.op == "crop" and len(layer.inputs) == 2 for layer in layers)
    assert {layer.attrs["mode"] for layer in layers if layer.op == "upsample"} == {"nearest",
                                                                                  "bilinear"}
    assert {layer.attrs["mode"] for layer in layers if layer.op == "pad"} == {"constant",
                                                                             "reflect"}


@functools.cache
def _token_network(seed):
    return random_valid(random.Random(f"oracle-tokens-{seed}"), new_ops=True, tokens=True)


@pytest.mark.parametrize("seed", SEEDS)
def test_random_token_network_agrees_with_onnxruntime(seed):
    # the same networks with token and attention ops drawn as well (netgen._token_op)
    text, net, report = _token_network(seed)
    assert disagreements(net, report) == [], text


def test_the_token_run_draws_every_token_op_and_attention_variant():
    nets = [_token_network(seed) for seed in SEEDS]
    ops = {layer.op for _, net, _ in nets for layer in net.layers}
    assert set(TOKEN_OPS) | {"class_token", "pos_embed", "take_token", "untokens"} <= ops
    seen = set()
    for _, net, report in nets:
        rows = {row.name: row for row in report.layers}
        for layer in net.layers:
            a = layer.attrs
            if layer.op == "patch_merge" and any(s % 2 for s in rows[layer.inputs[0]].output[:2]):
                seen.add("odd patch_merge")
            if layer.op != "attention":
                continue
            seen.add("window" if a["window"] else "grid" if a["grid"] else
                     "cross" if len(layer.inputs) == 2 else "global")
            if a["window"] and any(a["shift"]) and a["relpos"]:
                seen.add("shifted window, relpos")
            if a["grid"] and a["relpos"]:
                seen.add("grid, relpos")
            if rows[layer.inputs[0]].output[0] == 1:
                seen.add("on a sequence")
            if not a["proj"]:
                seen.add("no proj")
            if a["head_dim"] is not None:
                seen.add("head_dim")
    assert seen == {"odd patch_merge", "window", "grid", "cross", "global",
                    "shifted window, relpos", "grid, relpos", "on a sequence", "no proj",
                    "head_dim"}


def test_the_new_ops_keep_the_analyzers_invariants():
    # tests/test_fuzz_properties.py's invariants over the same 40 networks, as they read with
    # resampling: upsampling and transposed convolutions make the jump (the RF's stride) finer,
    # so only the window may not shrink across them; a crop's second input gives only a size
    # (docs/definitions.md, "Receptive field")
    for seed in SEEDS:
        text, _, r = _network(seed)
        t = r.totals
        assert t.params == sum(x.params for x in r.layers)
        assert t.macs == sum(x.macs for x in r.layers)
        assert t.activations == sum(x.activations for x in r.layers)
        assert t.peak_bytes <= t.activation_bytes, text
        rows = {x.name: x for x in r.layers}
        for x in r.layers:
            for s in x.inputs[:1] if x.op == "crop" else x.inputs:
                a, b = rows[s].rf, x.rf
                if x.op in ("add", "mul") and rows[s].output[:2] != x.output[:2]:
                    continue
                if not b.is_global:
                    assert not a.is_global, text
                    assert b.size[0] >= a.size[0] and b.size[1] >= a.size[1], text
                    if x.op not in ("upsample", "conv_transpose"):
                        assert b.stride[0] >= a.stride[0] and b.stride[1] >= a.stride[1], text


@pytest.mark.parametrize("spec", ["resnet18.yaml", "googlenet.yaml", "mobilenet_v1.yaml",
                                  "lenet5.yaml",
                                  pytest.param("zfnet.yaml", marks=pytest.mark.slow)])  # 6–10 s
def test_shipped_network_agrees_with_onnxruntime(spec):
    net = archcalc.load(SPECS / spec)
    assert disagreements(net, archcalc.analyze(net), batch=1) == []


def test_the_oracle_catches_a_wrong_volume_and_a_wrong_count():
    from dataclasses import replace
    net = archcalc.parse("C3D8 M FC10", input=(8, 8, 3))
    r = archcalc.analyze(net)
    rows = tuple(row._replace(output=(3, 3, 8)) if row.name == "pool1" else row for row in r.layers)
    bad = replace(r, layers=rows, totals=replace(r.totals, params=r.totals.params + 1))
    found = disagreements(net, bad)
    assert any("pool1" in f for f in found) and any("initializers" in f for f in found)


def test_the_oracle_reports_a_graph_onnxruntime_refuses(monkeypatch):
    # an exported graph onnxruntime cannot run (here a kernel_shape that does not fit the
    # weights) is a disagreement, and the run goes on: the long run must not stop at it
    import onnx

    from archcalc.exporters import onnx as onnx_export
    real = onnx_export.to_model

    def broken(*args, **kwargs):
        model = real(*args, **kwargs)
        node = next(n for n in model.graph.node if n.op_type == "Conv")
        attr = next(a for a in node.attribute if a.name == "kernel_shape")
        attr.CopyFrom(onnx.helper.make_attribute("kernel_shape", [5, 5]))
        return model

    monkeypatch.setattr(onnx_export, "to_model", broken)
    net = archcalc.parse("C3D8 M FC10", input=(8, 8, 3))
    found = disagreements(net, archcalc.analyze(net))
    assert len(found) == 1 and found[0].startswith("onnxruntime refused"), found
