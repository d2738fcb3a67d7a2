"""An ONNX model's input size in sizes and fit: a model that fixes its height and width takes that
one size (as summary, sweep and fit say), a model with a dynamic height and width takes any, and
fit --maximize res works on it with or without --input (and on a spec given --input)."""
import json

import pytest
from design_helpers import cli

onnx = pytest.importorskip("onnx")
np = pytest.importorskip("numpy")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402


@pytest.fixture
def fixed(tmp_path, capsys):
    """A model exported at 32×32×3 (its height and width fixed)."""
    path = str(tmp_path / "fixed.onnx")
    code, _, err = cli(capsys, "export", "C3D8S2P1 M", "-i", "32x32x3", "-o", path, "-w", "none")
    assert code == 0, err
    return path


@pytest.fixture
def dynamic(tmp_path):
    """Conv 3×3 p1, 3 → 4 channels, on an input [N, 3, H, W]: MACs = H·W·4·3·9 = 108·H·W."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, "H", "W"])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    conv = helper.make_node("Conv", ["x", "w"], ["y"], name="conv", kernel_shape=[3, 3],
                            pads=[1, 1, 1, 1])
    graph = helper.make_graph([conv], "g", [x], [y],
                              [numpy_helper.from_array(np.zeros((4, 3, 3, 3), np.float32), "w")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    path = str(tmp_path / "dyn.onnx")
    onnx.save(model, path)
    return path


def test_sizes_of_a_fixed_model_is_its_one_size(fixed, capsys):
    code, out, _ = cli(capsys, "sizes", fixed, "-r", "28..36", "-F", "json")
    doc = json.loads(out)
    assert code == 0
    assert [v["size"] for v in doc["valid"]] == [32]
    assert doc["rule"]["text"].startswith("one size, N = 32: the model's input is fixed at 32×32")
    (group,) = doc["invalid"]
    assert group["layer"] == "input" and group["sizes"] == [28, 29, 30, 31, 33, 34, 35, 36]
    assert "fixed at 32×32" in group["message"]
    # a range without it: no valid size (exit 1), as summary -i refuses each
    code, _, err = cli(capsys, "sizes", fixed, "-r", "20..30")
    assert code == 1 and "fixed at 32×32" in err
    code, _, err = cli(capsys, "summary", fixed, "-i", "30x30x3")
    assert code == 2 and "fixed at 32×32" in err


def test_fit_refuses_a_fixed_model_in_words_about_the_model(fixed, capsys):
    code, _, err = cli(capsys, "fit", fixed, "--budget", "macs=1G", "--maximize", "res")
    assert code == 2
    assert "fixed at 32×32" in err and "--set" not in err.split("hint")[0]
    assert "dynamic height and width" in err


def test_fit_maximizes_res_on_a_dynamic_model(dynamic, capsys):
    # 108·N² ≤ 1,000,000: N = 96 (995,328); 97 gives 1,016,172 (by hand)
    for extra in ([], ["-i", "224x224x3"]):
        code, out, err = cli(capsys, "fit", dynamic, *extra, "--budget", "macs=1000000",
                             "--maximize", "res", "-F", "json")
        assert code == 0, err
        doc = json.loads(out)
        assert doc["answer"]["value"] == 96 and doc["answer"]["totals"]["macs"] == 995328
        assert doc["past"]["value"] == 97 and doc["past"]["totals"]["macs"] == 1016172


def test_sizes_of_a_dynamic_model_without_input(dynamic, capsys):
    code, out, _ = cli(capsys, "sizes", dynamic, "-r", "5..9", "-F", "json")
    doc = json.loads(out)
    assert code == 0 and [v["size"] for v in doc["valid"]] == [5, 6, 7, 8, 9]
    assert doc["valid"][0]["feature_map"]["output"] == [5, 5, 4]


def test_fit_res_on_a_spec_given_input(capsys):
    # C3D8 same on 1 channel: MACs = N²·8·1·9 = 72·N² ≤ 1,000,000: N = 117 (985,608), by hand
    code, out, err = cli(capsys, "fit", "C3D8", "-i", "64x64x1", "--budget", "macs=1000000",
                         "--maximize", "res", "-F", "json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["answer"]["value"] == 117 and doc["answer"]["totals"]["macs"] == 985608


def test_a_model_fixing_only_its_height(tmp_path, capsys):
    """[N, 3, 32, W]: the width is free, the height is not (it was taken from --input)."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 32, "W"])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"], name="relu")], "g", [x],
                              [y])
    path = str(tmp_path / "h.onnx")
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    code, out, err = cli(capsys, "summary", path, "-i", "32x40x3", "-F", "json")
    assert code == 0, err
    code, _, err = cli(capsys, "summary", path, "-i", "30x40x3")
    assert code == 2 and "fixed at H = 32" in err and "--input 32x40x3" in err
    code, out, _ = cli(capsys, "sizes", path, "-i", "32x40x3", "-r", "30..34", "-F", "json")
    assert [v["size"] for v in json.loads(out)["valid"]] == [32]
    code, out, _ = cli(capsys, "sizes", path, "-i", "32x40x3", "-r", "30..34", "--axis",
                       "width", "-F", "json")
    assert [v["size"] for v in json.loads(out)["valid"]] == [30, 31, 32, 33, 34]
    # without --input: the free width is tried at each size, the height kept
    code, out, err = cli(capsys, "sizes", path, "-r", "30..34", "--axis", "width", "-F", "json")
    assert code == 0, err
    assert [v["input"] for v in json.loads(out)["valid"]][0] == [32, 30, 3]
