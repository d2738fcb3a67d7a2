"""Activation memory, peak memory, training estimate and receptive fields."""
import pytest
from conftest import SPECS

import archcalc


def analyze(spec, input, **kw):
    return archcalc.analyze(archcalc.parse(spec, input=input), **kw)


def test_vgg16_activations_match_the_lecture_walkthrough():
    # Olsen's VGG16 walkthrough, memory per layer (elements); ReLUs run in place so add nothing.
    lecture = [224 * 224 * 3, 224 * 224 * 64, 224 * 224 * 64, 112 * 112 * 64, 112 * 112 * 128,
               112 * 112 * 128, 56 * 56 * 128, 56 * 56 * 256, 56 * 56 * 256, 56 * 56 * 256,
               28 * 28 * 256, 28 * 28 * 512, 28 * 28 * 512, 28 * 28 * 512, 14 * 14 * 512,
               14 * 14 * 512, 14 * 14 * 512, 14 * 14 * 512, 7 * 7 * 512, 4096, 4096, 1000]
    r = archcalc.analyze(archcalc.load(SPECS / "vgg16.yaml"))
    rows = [row.activations for row in r.layers if row.activations]
    assert rows[:-1] == lecture           # the last row is the softmax output, not in the slide
    assert rows[-1] == 1000
    # The slide's "TOTAL memory: 24M" is an arithmetic slip: its rows add up to about 15.2M.
    assert sum(lecture) == 15_237_608
    assert r.totals.activations == sum(lecture) + 1000
    assert r.totals.activation_bytes == 4 * (sum(lecture) + 1000)


def test_dtype_and_batch_scale_bytes():
    base = analyze("C3D8", (8, 8, 3))
    half = analyze("C3D8", (8, 8, 3), dtype="fp16", batch=4)
    acts = 8 * 8 * 3 + 8 * 8 * 8
    assert base.totals.activation_bytes == 4 * acts
    assert half.totals.activation_bytes == 2 * 4 * acts
    assert half.totals.param_bytes == 2 * (3 * 3 * 3 * 8 + 8)
    assert analyze("C3D8", (8, 8, 3), dtype="int8").totals.param_bytes == 3 * 3 * 3 * 8 + 8


def test_inplace_relu_and_the_option_that_counts_it():
    inplace = analyze("C3D4 R C3D4", (8, 8, 1))
    counted = analyze("C3D4 R C3D4", (8, 8, 1), count_inplace=True)
    assert inplace["relu1"].activations == 0 and inplace["relu1"].inplace
    assert counted["relu1"].activations == 8 * 8 * 4
    assert counted.totals.activations - inplace.totals.activations == 8 * 8 * 4


def test_peak_by_liveness_in_a_chain():
    # input 64 → conv1 256 → conv2 256 elements. Running conv1 holds input + its output (320);
    # then the input is freed; running conv2 holds conv1 + conv2 (512). Peak 512 at conv2.
    r = analyze("C3D4 C3D4", (8, 8, 1))
    assert r.totals.peak_bytes == 4 * 512 and r.totals.peak_layer == "conv2"
    # an in-place ReLU adds no buffer; counted, it still frees conv1 before conv2 runs
    assert analyze("C3D4 R C3D4", (8, 8, 1)).totals.peak_bytes == 4 * 512
    assert analyze("C3D4 R C3D4", (8, 8, 1), count_inplace=True).totals.peak_bytes == 4 * 512
    assert analyze("C3D4 C3D4", (8, 8, 1), batch=3).totals.peak_bytes == 3 * 4 * 512


def test_vgg16_peak_is_two_full_size_maps():
    # the two 224×224×64 outputs of conv1 and conv2 are alive together while conv2 runs
    r = archcalc.analyze(archcalc.load(SPECS / "vgg16.yaml"))
    assert r.totals.peak_bytes == 4 * 2 * 224 * 224 * 64
    assert r.totals.peak_bytes <= r.totals.activation_bytes


@pytest.mark.parametrize("optimizer,states", [("sgd", 0), ("momentum", 1), ("adam", 2)])
def test_training_estimate(optimizer, states):
    r = analyze("C3D4 BN", (8, 8, 1), optimizer=optimizer, batch=2)
    params = 3 * 3 * 1 * 4 + 4 + 4 * 4          # conv + BN (γ, β, mean, var)
    trainable = params - 2 * 4
    # the training step's peak (docs/training-memory.md) comes as BatchNorm's backward runs:
    # the weights, the optimizer's states, the input (2·64), conv's output (2·256, kept by
    # BatchNorm), BatchNorm's output (2·256, the network's), its two statistics per channel
    # (2·4), and the gradients BatchNorm makes: of its input (2·256) and of γ and β (8)
    held = params + trainable * states + 2 * 64
    assert r.totals.training_bytes == 4 * (held + 2 * 256 + 2 * 256 + 2 * 4 + 2 * 256 + 8)


def test_three_stacked_3x3_convs_see_3_5_7():
    r = analyze("CCC", (32, 32, 3))
    assert [row.rf.size for row in r.layers[1:]] == [(3, 3), (5, 5), (7, 7)]
    assert all(row.rf.stride == (1, 1) for row in r.layers)


def test_two_valid_convs_on_5x5_see_the_whole_input():
    # DI504: 5×5 input, two 3×3 layers without padding → 1×1 output whose field is the 5×5 input
    r = analyze("C3D1P0 C3D1P0", (5, 5, 1))
    assert r.layers[-1].output == (1, 1, 1) and r.layers[-1].rf.size == (5, 5)
    assert r.layers[-1].rf.start == (2.0, 2.0)   # centred on the middle pixel


def test_vgg16_pool5_receptive_field():
    r = archcalc.analyze(archcalc.load(SPECS / "vgg16.yaml"))
    rf = r["pool5"].rf
    assert rf.size == (212, 212) and rf.stride == (32, 32)
    # centre of the first unit: each 2×2/2 pool moves it by half a jump: 0.5+1+2+4+8
    assert rf.start == (15.5, 15.5)
    assert r["fc1"].rf.is_global and r["softmax1"].rf.is_global
    # a global field has no local window: no size, stride or start, in Python and in JSON
    assert r["fc1"].rf.size is None and r["fc1"].rf.stride is None and r["fc1"].rf.start is None
    assert r["fc1"].rf.to_dict() == {"global": True, "size": None, "stride": None,
                                     "start": None, "aligned": True}


def test_alexnet_receptive_fields_match_the_published_ones():
    # conv1 11, pool1 19, conv2 51, pool2 67, conv3 99, conv4 131, conv5 163, pool5 195
    r = archcalc.analyze(archcalc.load(SPECS / "alexnet.yaml"))
    got = [r[n].rf.size[0] for n in ("conv1", "pool1", "conv2", "pool2", "conv3", "conv4",
                                     "conv5", "pool5")]
    assert got == [11, 19, 51, 67, 99, 131, 163, 195]
    assert r["pool5"].rf.stride == (32, 32)


def test_receptive_field_with_dilation():
    # a 3×3 kernel with dilation 2 spans 5 pixels
    net = archcalc.parse("name: d\ninput: 16x16x1\nlayers:\n"
                         "  - {op: conv, filters: 1, dilation: 2, padding: 2}\n")
    assert archcalc.analyze(net)["conv1"].rf.size == (5, 5)


def test_inplace_never_overwrites_a_buffer_another_branch_still_reads():
    # c1 → flatten f (a view of c1) → relu r; fc2 reads c1 after r runs. r may not overwrite
    # c1's buffer, so it needs one of its own (4·4·2 = 32 elements).
    net = archcalc.parse("""
name: b3
input: 4x4x2
layers:
  - {op: conv, name: c1, filters: 2}
  - {op: flatten, name: f}
  - {op: relu, name: r}
  - {op: fc, name: fc1, units: 3}
  - {op: fc, name: fc2, inputs: c1, units: 3}
  - {op: concat, name: cat, inputs: [fc1, fc2]}
""")
    r = archcalc.analyze(net)
    assert not r["r"].inplace and r["r"].activations == 32
    assert r["f"].inplace and r["f"].activations == 0
    # but when the other reader has already run, the relu can take the buffer over
    net2 = archcalc.parse("""
name: b4
input: 4x4x2
layers:
  - {op: conv, name: c1, filters: 2}
  - {op: fc, name: fc2, units: 3}
  - {op: relu, name: r, inputs: c1}
  - {op: fc, name: fc1, units: 3}
  - {op: concat, name: cat, inputs: [fc1, fc2]}
""")
    assert archcalc.analyze(net2)["r"].inplace
