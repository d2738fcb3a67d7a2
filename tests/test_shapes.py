"""Output volumes: ⌊(W − F + 2P)/S⌋ + 1 and its checks, against the lectures' worked examples."""
import pytest

import archcalc
from archcalc import ArchcalcError
from archcalc.errors import SourcePos
from archcalc.ops import window_out


def out(n, k, s=1, p=0, d=1, rounding="exact"):
    return window_out(n, k, s, p, d, rounding, "width", "L", SourcePos())


def test_lecture_examples():
    # DI504: a 7×7 input and a 3×3 filter give 5×5; with stride 2, 3×3.
    assert out(7, 3) == 5
    assert out(7, 3, s=2) == 3
    # DI504 / CS167: AlexNet conv1, (227 − 11 + 0)/4 + 1 = 55.
    assert out(227, 11, s=4) == 55
    # Half padding (F − 1)/2 keeps the size; full padding F − 1 grows it by F − 1 (Aggarwal).
    assert out(32, 5, p=2) == 32
    assert out(32, 5, p=4) == 36


def test_lecture_volume_32x32x3_with_six_5x5_filters():
    net = archcalc.parse("C5D6P0", input=(32, 32, 3))
    assert net and archcalc.analyze(net).layers[-1].output == (28, 28, 6)


def test_inexact_division_is_an_error_with_fixes():
    # The lectures' AlexNet at 224×224: (224 − 11)/4 + 1 = 54.25.
    with pytest.raises(ArchcalcError) as e:
        archcalc.analyze(archcalc.parse("C11D96S4P0", input=(224, 224, 3)))
    d = e.value.diagnostics[0]
    assert "54.25" in d.message and "(224 − 11 + 2·0)/4 + 1" in d.message
    assert d.layer == "conv1"
    assert "227" in d.hint and "--rounding floor" in d.hint   # a spec string: the CLI's spelling
    assert d.pos.col == 1


def test_floor_and_ceil():
    assert out(224, 11, s=4, rounding="floor") == 54
    assert out(224, 11, s=4, rounding="ceil") == 55
    # Caffe-style ceil for GoogLeNet's pools: 112 → (112 − 3)/2 + 1 = 55.5 → 56
    assert out(112, 3, s=2, rounding="ceil") == 56
    # ...but a last window that would start in the right padding is dropped (PyTorch/ONNX):
    # n = 6, k = 2, s = 2, p = 1: (6 + 2 − 2)/2 + 1 = 4 exactly, no extra window.
    assert out(6, 2, s=2, p=1, rounding="ceil") == 4
    # n = 5, k = 2, s = 2, p = 1: (5 + 2 − 2)/2 + 1 = 3.5, ceil gives 4 windows, starting at
    # padded offsets 0, 2, 4, 6; the padded row is [pad, x0..x4, pad] (offsets 0..6), so the 4th
    # window would cover only the right pad: it is dropped and the output is 3.
    assert out(5, 2, s=2, p=1, rounding="ceil") == 3


def test_dilation():
    # dilation 2 makes a 3×3 kernel span 5: (32 − 5 + 2·2)/1 + 1 = 32
    assert out(32, 3, p=2, d=2) == 32
    assert out(32, 3, d=2) == 28


def test_filter_larger_than_padded_input():
    with pytest.raises(ArchcalcError) as e:
        archcalc.analyze(archcalc.parse("C7D8P0", input=(5, 5, 3)))
    assert "larger than the padded input" in str(e.value)


def test_groups_must_divide_channels():
    with pytest.raises(ArchcalcError) as e:
        archcalc.analyze(archcalc.parse("C3D64G2", input=(8, 8, 3)))
    assert "groups = 2 must divide" in str(e.value)


@pytest.mark.parametrize("bad", ["0x32x3", "32x-1x3", "32x32", "axbxc"])
def test_non_positive_or_malformed_input_volume(bad):
    with pytest.raises(ArchcalcError):
        archcalc.parse("C", input=bad)


def test_same_padding_needs_odd_kernel():
    with pytest.raises(ArchcalcError) as e:
        archcalc.analyze(archcalc.parse("C2D8", input=(8, 8, 3)))
    assert "odd kernel" in str(e.value)


def test_pool_output_keeps_depth_and_fc_is_a_vector():
    r = archcalc.analyze(archcalc.parse("C3D16 M FC10", input=(8, 8, 3)))
    assert [row.output for row in r.layers] == [(8, 8, 3), (8, 8, 16), (4, 4, 16), (1, 1, 10)]


def test_channel_mismatch_names_both_sides():
    net = archcalc.parse("name: x\ninput: 8x8x3\nlayers:\n"
                         "  - {op: conv, filters: 16, in_channels: 3}\n"
                         "  - {op: conv, filters: 8, in_channels: 32}\n"
                         "  - {op: fc, units: 10, in_features: 100}\n")
    with pytest.raises(ArchcalcError) as e:
        archcalc.analyze(net)
    d1, d2 = e.value.diagnostics
    assert d1.layer == "conv2" and "in_channels = 32, but the input from conv1 has 16" in d1.message
    # the analysis goes on past conv2 (8×8×8 = 512 features reach the fc)
    assert d2.layer == "fc1" and "in_features = 100, but the input from conv2 has 512" in d2.message
