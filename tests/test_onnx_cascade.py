"""An ONNX node archcalc cannot read is reported once, as the root cause: the nodes that depend on
it are counted as skipped in one clause, in plain English, never reported as errors of their own;
and "--unknown passthrough" is suggested only for ops archcalc does not know."""
from __future__ import annotations

import math
import re
import warnings

import pytest
from conftest import import_torchvision, run_cli

onnx = pytest.importorskip("onnx")
np = pytest.importorskip("numpy")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

import archcalc  # noqa: E402
from archcalc.errors import ArchcalcError  # noqa: E402


def _model(nodes, inits, tmp_path, name="m.onnx", opset=17):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    graph = helper.make_graph(nodes, "g", [x], [y], [
        numpy_helper.from_array(np.asarray(v, np.float32), k) for k, v in inits.items()])
    path = str(tmp_path / name)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)]), path)
    return path


def block_like(tmp_path, first="Reshape"):
    """A ConvNeXt-like block in ONNX (opset 17): conv → a view → MatMul + Add (a Linear) → GELU
    in its exact Erf form → the view back → the residual Add → Relu. The first view is a Reshape
    of [1, 4, 8, 8] to [1, 32, 8], which merges the channels with the rows: no view archcalc
    follows (a Transpose to channels last, ConvNeXt's own, is one: ``first="Transpose"``); the
    ten nodes after it all depend on it."""
    inits = {"w": np.zeros((4, 3, 1, 1)), "W": np.zeros((8, 8)), "b": np.zeros(8),
             "sqrt2": np.array(math.sqrt(2)), "one": np.array(1.0), "half": np.array(0.5),
             "merged": np.array([1, 32, 8]), "back": np.array([1, 4, 8, 8])}
    if first == "Transpose":
        inits.update(W=np.zeros((4, 4)), b=np.zeros(4))
    n = helper.make_node
    view, undo = (
        (n("Reshape", ["c", "merged"], ["t"], name="t1"), n("Reshape", ["g", "back"], ["u"],
                                                              name="t2"))
        if first == "Reshape" else
        (n("Transpose", ["c"], ["t"], name="t1", perm=[0, 2, 3, 1]),
         n("Transpose", ["g"], ["u"], name="t2", perm=[0, 3, 1, 2])))
    nodes = [n("Conv", ["x", "w"], ["c"], name="conv", kernel_shape=[1, 1]),
             view,
             n("MatMul", ["t", "W"], ["m"], name="mm"),
             n("Add", ["m", "b"], ["a"], name="add"),
             n("Div", ["a", "sqrt2"], ["d"], name="div"),
             n("Erf", ["d"], ["e"], name="erf"),
             n("Add", ["e", "one"], ["p"], name="plus"),
             n("Mul", ["a", "p"], ["q"], name="m1"),
             n("Mul", ["q", "half"], ["g"], name="m2"),
             undo,
             n("Add", ["u", "c"], ["r"], name="res"),
             n("Relu", ["r"], ["y"], name="relu")]
    inits = {k: np.asarray(v, np.int64 if k in ("merged", "back") else np.float32)
             for k, v in inits.items()}
    return _model(nodes, inits, tmp_path)


def test_the_block_with_its_own_views_reads(tmp_path):
    """With ConvNeXt's own views (Transposes to channels last and back) the block is read:
    conv, layernorm-free Linear (4·4 + 4), GELU, the residual add, ReLU."""
    net = archcalc.load(block_like(tmp_path, first="Transpose"))
    assert [(la.op, la.attrs.get("units")) for la in net.layers][1:] == [
        ("conv", None), ("linear", 4), ("gelu", None), ("add", None), ("relu", None)]


def test_one_root_cause_and_the_nodes_it_skips(tmp_path):
    path = block_like(tmp_path)
    with pytest.raises(ArchcalcError) as exc:
        archcalc.load(path)
    (d,) = exc.value.diagnostics
    assert d.message.startswith("node 't1' (Reshape): archcalc cannot read it: a Reshape of "
                                "[1, 4, 8, 8] to [1, 32, 8]: it splits or merges the channels")
    # by hand: mm, add, div, erf, plus, m1, m2, t2, res, relu
    assert d.message.endswith("; the 10 nodes that depend on it are skipped")
    assert "not produced by any node" not in d.message
    # a known op in a form archcalc cannot read: passthrough is no fix for it
    assert "--unknown passthrough" not in d.hint
    p = run_cli("summary", path)
    assert p.returncode == 1 and p.stderr.count("error") == 1, p.stderr
    assert "not produced" not in p.stderr and "passthrough" not in p.stderr


def test_two_root_causes_each_with_what_it_skips(tmp_path):
    """A Reshape archcalc does not follow (it merges the channels with the rows) and an op
    archcalc does not know, on two branches: each is reported once; each counts the nodes that
    depend on it (relu1 on t1; relu2 on the Mystery node); the merge depends on both and is
    counted with the first."""
    n = helper.make_node
    merged = helper.make_tensor("merged", TensorProto.INT64, [3], [1, 24, 8])
    nodes = [n("Constant", [], ["merged"], name="shape", value=merged),
             n("Reshape", ["x", "merged"], ["t"], name="t1"),
             n("Relu", ["t"], ["r1"], name="relu1"),
             n("Mystery", ["x"], ["m"], name="odd", domain="acme"),
             n("Relu", ["m"], ["r2"], name="relu2"),
             n("Add", ["r1", "r2"], ["y"], name="merge")]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    model = helper.make_model(helper.make_graph(nodes, "g", [x], [y]), opset_imports=[
        helper.make_opsetid("", 17), helper.make_opsetid("acme", 1)])
    path = str(tmp_path / "two.onnx")
    onnx.save(model, path)
    with pytest.raises(ArchcalcError) as exc:
        archcalc.load(path)
    by = {d.message.split(":")[0]: d for d in exc.value.diagnostics}
    assert len(exc.value.diagnostics) == 2
    t1 = by["node 't1' (Reshape)"]
    assert t1.message.endswith("; the 2 nodes that depend on it are skipped")
    assert "--unknown passthrough" not in t1.hint
    odd = next(d for d in exc.value.diagnostics if "acme.Mystery" in d.message)
    assert odd.message.endswith("; the node that depends on it is skipped")
    assert "--unknown passthrough" in odd.hint          # an op archcalc does not know


def test_each_message_reads_as_a_sentence(tmp_path):
    """Forms that are clauses (an input that is not a constant) read after "cannot read it:"."""
    n = helper.make_node
    nodes = [n("Relu", ["x"], ["r"], name="relu"),
             n("Clip", ["r", "r"], ["y"], name="clip")]     # a bound that is no constant
    path = _model(nodes, {}, tmp_path, "clip.onnx")
    with pytest.raises(ArchcalcError) as exc:
        archcalc.load(path)
    (d,) = exc.value.diagnostics
    assert d.message == "node 'clip' (Clip): archcalc cannot read it: input 2 is not a constant " \
                        "scalar"


# ---------------------------------------------------------------------------------------------
# torchvision's ConvNeXt: read whole; with an op archcalc does not know in one block, one error

class CumSum:
    """An op archcalc does not know (ONNX CumSum), in place of a block's GELU."""

    def __new__(cls, torch):
        class _CumSum(torch.nn.Module):
            def forward(self, x):
                return torch.cumsum(x, -1)
        return _CumSum()


@pytest.mark.slow                     # about 10 s: torchvision's import and two exports
def test_torchvision_convnext_tiny_reads_and_an_unknown_op_is_one_error(tmp_path):
    """ConvNeXt-T (torchvision, TorchScript exporter, opset 17) is read whole: its parameters
    are the module's (the layer scales and LayerNorms included). With its second stage's first
    GELU replaced by a cumulative sum, that node is the one error, with the nodes that depend
    on it counted; ``--unknown passthrough`` keeps it as a layer laid out as its input."""
    torch, torchvision = import_torchvision()
    model = torchvision.models.convnext_tiny().eval()
    path = str(tmp_path / "convnext.onnx")
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")           # (the TorchScript exporter is deprecated)
        torch.onnx.export(model, torch.randn(1, 3, 64, 64), path, opset_version=17,
                          dynamo=False)
    report = archcalc.analyze(archcalc.load(path))
    assert report.totals.params == sum(p.numel() for p in model.parameters()) == 28_589_128
    model.features[3][0].block[4] = CumSum(torch)
    path = str(tmp_path / "cumsum.onnx")
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, torch.randn(1, 3, 64, 64), path, opset_version=17,
                          dynamo=False, export_params=False)      # (its structure only)
    p = run_cli("summary", path)
    assert p.returncode == 1
    errors = [line for line in p.stderr.splitlines() if ": error" in line]
    assert len(errors) == 1, p.stderr
    assert "unsupported op 'CumSum' (1 node: /features/features.3/features.3.0/block/block.4/" \
           "CumSum)" in errors[0]
    assert re.search(r"; the \d+ nodes that depend on it are skipped$", errors[0])
    assert "not produced by any node" not in p.stderr and "passthrough" in p.stderr
    kept = archcalc.load(path, unknown="passthrough")
    assert [la.op for la in kept.layers if la.op == "opaque"] == ["opaque"]
