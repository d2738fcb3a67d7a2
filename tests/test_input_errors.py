"""Issue 8, "Input and errors": specs read as written or refused with a hint that fits where the
user stands (rounding default, network-level fixes, all errors at once, stdin, ONNX files)."""
from __future__ import annotations

import pytest

import archcalc
from archcalc import spec
from archcalc.analysis import diagnose
from archcalc.errors import ArchcalcError, SourcePos
from archcalc.ops import window_out


def out(n, k, s=1, p=0, d=1, rounding="covered"):
    return window_out(n, k, s, p, d, rounding, "width", "L", SourcePos())


def errors_of(fn, *args, **kw):
    with pytest.raises(ArchcalcError) as ei:
        fn(*args, **kw)
    return ei.value.diagnostics


# ---------------------------------------------------------------------------------------------
# the default rounding rule: covered

def test_covered_accepts_a_fraction_where_only_padding_goes_unused():
    # 3×3/2 padding 1 on 32: (32 − 3 + 2)/2 + 1 = 16.5; r = 31 mod 2 = 1 = the right padding → 16
    assert out(32, 3, s=2, p=1) == 16
    # torchvision AlexNet conv1 11×11/4 padding 2 on 224: (224 − 11 + 4)/4 + 1 = 55.25;
    # r = 217 mod 4 = 1 ≤ padding 2 → 55
    assert out(224, 11, s=4, p=2) == 55
    # ResNet's 1×1/2 downsample on 56: 55/2 + 1 = 28.5; pixel 55 is skipped by the stride anyway
    assert out(56, 1, s=2) == 28
    # ZFNet conv1 7×7/2 padding 1 on 224: 219/2 + 1 = 110.5; r = 1 = padding → 110
    assert out(224, 7, s=2, p=1) == 110


def test_covered_refuses_when_real_pixels_go_unseen():
    # original AlexNet conv1 11×11/4 padding 0 on 224: 213/4 + 1 = 54.25, r = 1 real pixel unseen
    with pytest.raises(ArchcalcError) as ei:
        out(224, 11, s=4)
    d = ei.value.diagnostics[0]
    assert "54.25" in d.message and "unseen" in d.message
    # 223 (212/4 + 1 = 54) and 227 (216/4 + 1 = 55) are exact; padding 2 leaves r = 1 ≤ 2
    assert "227" in d.hint and "223" in d.hint and "padding 2" in d.hint
    # a 2×2/2 pool on 25 (VGG16's pool4 at 100×100): 23/2 + 1 = 12.5, the 25th row unseen
    with pytest.raises(ArchcalcError):
        out(25, 2, s=2)


def test_exact_floor_ceil_stay():
    with pytest.raises(ArchcalcError):
        out(32, 3, s=2, p=1, rounding="exact")
    assert out(224, 11, s=4, rounding="floor") == 54
    assert out(224, 11, s=4, rounding="ceil") == 55


def test_default_rounding_everywhere_is_covered():
    # C3D32S2 on 32×32 is 16×16×32 by default in a string, a YAML spec and a table
    net = archcalc.parse("C3D32S2", input=(32, 32, 3))
    assert net.rounding == "covered"
    assert archcalc.analyze(net)["conv1"].output == (16, 16, 32)
    y = archcalc.parse("name: y\ninput: 32x32x3\nlayers: [C3D32S2]\n")
    assert y.rounding == "covered" and archcalc.analyze(y)["conv1"].output == (16, 16, 32)
    t = archcalc.parse("Name:\tA\n\tC3D32S2\n", input=(32, 32, 3), column="A")
    assert archcalc.analyze(t)["conv1"].output == (16, 16, 32)
    # exact is still available from every front-end
    with pytest.raises(ArchcalcError):
        archcalc.analyze(archcalc.parse("C3D32S2", input=(32, 32, 3), rounding="exact"))


def test_shipped_specs_need_no_rounding_lines_but_caffe_pools():
    import glob
    for path in glob.glob("specs/*.yaml"):
        text = open(path).read()
        assert "rounding: floor" not in text, path
    # ZFNet and GoogLeNet keep their Caffe ceil pools
    assert "rounding: ceil" in open("specs/zfnet.yaml").read()
    assert "rounding: ceil" in open("specs/googlenet.yaml").read()
