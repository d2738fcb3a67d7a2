"""An ONNX node archcalc cannot read is reported once, as the root cause: the nodes that depend on
it are counted as skipped in one clause, in plain English, never reported as errors of their own;
and "--unknown passthrough" is suggested only for ops archcalc does not know."""
from __future__ import annotations

import math
import re

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


def convnext_like(tmp_path):
    """A ConvNeXt block's shape in ONNX (opset 17): conv → Transpose to NHWC → MatMul + Add (a
    Linear) → GELU in its exact Erf form → Transpose back → the residual Add → Relu. archcalc
    keeps NCHW and refuses the first Transpose; the ten nodes after it all depend on it."""
    inits = {"w": np.zeros((4, 3, 1, 1)), "W": np.zeros((4, 4)), "b": np.zeros(4),
             "sqrt2": np.array(math.sqrt(2)), "one": np.array(1.0), "half": np.array(0.5)}
    n = helper.make_node
    nodes = [n("Conv", ["x", "w"], ["c"], name="conv", kernel_shape=[1, 1]),
             n("Transpose", ["c"], ["t"], name="t1", perm=[0, 2, 3, 1]),
             n("MatMul", ["t", "W"], ["m"], name="mm"),
             n("Add", ["m", "b"], ["a"], name="add"),
             n("Div", ["a", "sqrt2"], ["d"], name="div"),
             n("Erf", ["d"], ["e"], name="erf"),
             n("Add", ["e", "one"], ["p"], name="plus"),
             n("Mul", ["a", "p"], ["q"], name="m1"),
             n("Mul", ["q", "half"], ["g"], name="m2"),
             n("Transpose", ["g"], ["u"], name="t2", perm=[0, 3, 1, 2]),
             n("Add", ["u", "c"], ["r"], name="res"),
             n("Relu", ["r"], ["y"], name="relu")]
    return _model(nodes, inits, tmp_path)


def test_one_root_cause_and_the_nodes_it_skips(tmp_path):
    path = convnext_like(tmp_path)
    with pytest.raises(ArchcalcError) as exc:
        archcalc.load(path)
    (d,) = exc.value.diagnostics
    assert d.message.startswith("node 't1' (Transpose): archcalc cannot read it: a Transpose "
                                "[0, 2, 3, 1]")
    # by hand: mm, add, div, erf, plus, m1, m2, t2, res, relu
    assert d.message.endswith("; the 10 nodes that depend on it are skipped")
    assert "not produced by any node" not in d.message
    # a known op in a form archcalc cannot read: passthrough is no fix for it
    assert "--unknown passthrough" not in d.hint
    p = run_cli("summary", path)
    assert p.returncode == 1 and p.stderr.count("error") == 1, p.stderr
    assert "not produced" not in p.stderr and "passthrough" not in p.stderr


def test_two_root_causes_each_with_what_it_skips(tmp_path):
    """A Transpose and an op archcalc does not know, on two branches: each is reported once;
    each counts the nodes that depend on it (relu1 on t1; relu2 on the Mystery node); the
    merge depends on both and is counted with the first."""
    n = helper.make_node
    nodes = [n("Transpose", ["x"], ["t"], name="t1", perm=[0, 2, 3, 1]),
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
    t1 = by["node 't1' (Transpose)"]
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
# torchvision's ConvNeXt, as the report had it

@pytest.mark.slow                     # about 10 s: torchvision's import and the export
def test_torchvision_convnext_tiny_is_one_error(tmp_path):
    torch, torchvision = import_torchvision()
    model = torchvision.models.convnext_tiny().eval()
    path = str(tmp_path / "convnext.onnx")
    with torch.no_grad():
        torch.onnx.export(model, torch.randn(1, 3, 64, 64), path, opset_version=17,
                          dynamo=False, export_params=False)      # (its structure only)
    p = run_cli("summary", path)
    assert p.returncode == 1
    errors = [line for line in p.stderr.splitlines() if ": error" in line]
    assert len(errors) == 1, p.stderr
    assert "(Transpose): archcalc cannot read it: a Transpose [0, 2, 3, 1]" in errors[0]
    assert re.search(r"; the \d+ nodes that depend on it are skipped$", errors[0])
    assert "not produced by any node" not in p.stderr and "passthrough" not in p.stderr
