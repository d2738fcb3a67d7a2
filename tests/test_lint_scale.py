"""Reviewer warnings that must not fire on real networks, and the analysis pass at scale."""
import re
import time

from conftest import SPECS

import archcalc
from archcalc.analysis import diagnose

# A squeeze-and-excitation block (Hu et al. 2018): the trunk, and a side branch global pool →
# 1×1 conv → ReLU → 1×1 conv → sigmoid whose gate multiplies the trunk back (broadcast mul).
SE_NET = """name: se
input: 32x32x16
blocks:
  se_block:
    layers:
      - {op: conv, name: conv1, filters: 16, kernel: 3, padding: 1}
      - {op: relu, name: relu1}
      - {op: conv, name: conv2, filters: 16, kernel: 3, padding: 1}
      - {op: global_avgpool, name: squeeze}
      - {op: conv, name: fc1, filters: 4, kernel: 1, padding: 0}
      - {op: relu, name: relu2}
      - {op: conv, name: fc2, filters: 16, kernel: 1, padding: 0}
      - {op: sigmoid, name: gate}
      - {op: mul, name: scale, inputs: [conv2, gate]}
      - {op: add, name: add, inputs: [scale, input]}
      - {op: relu, name: out}
layers:
  - {block: se_block, name: "se{i}", repeat: 3}
  - {op: global_avgpool, name: pool}
  - {op: conv, name: classifier, filters: 10, kernel: 1, padding: 0}
"""


def collapse_warnings(net):
    return [d for d in diagnose(net) if "1×1 at" in d.message]


def test_squeeze_and_excitation_is_not_a_collapsed_volume():
    # the 1×1 convs of each SE branch act on the 1×1 squeezed volume (they are the paper's FC
    # layers), and the trunk's 3×3 convs do not read from the branch: no convolution with a
    # spatial kernel reads a 1×1 volume. Before: "the volume is 1×1 at se1/fc1 while 5 more
    # convolutions follow" (every conv after it in layer order).
    net = archcalc.parse(SE_NET)
    assert collapse_warnings(net) == []
    assert archcalc.analyze(net).diagnostics == ()


def test_a_side_branch_collapse_counts_only_its_own_readers():
    # the branch squeezes to 1×1 and one 3×3 conv reads it (sees padding around one pixel);
    # the trunk's two 3×3 convs come later in layer order but do not read from the branch
    text = """name: side
input: 8x8x4
layers:
  - {op: conv, name: trunk1, filters: 4, kernel: 3, padding: 1}
  - {op: global_avgpool, name: gap}
  - {op: conv, name: wasted, filters: 4, kernel: 3, padding: 1}
  - {op: conv, name: trunk2, inputs: trunk1, filters: 4, kernel: 3, padding: 1}
  - {op: conv, name: trunk3, filters: 4, kernel: 3, padding: 1}
"""
    [d] = collapse_warnings(archcalc.parse(text))
    assert d.layer == "gap"
    assert "while 1 more convolution follows (wasted); it sees no spatial context" in d.message


def test_collapse_counts_readers_through_other_layers_with_plural_grammar():
    # 8 → pool 4 → pool 2 → pool 1 (pool3 collapses); C3D8 C3D8 read it through each other,
    # the 1×1 conv (a fully connected layer on a 1×1 volume) does not count
    net = archcalc.parse("C3D8 M M M R C1D8P0 C3D8 C3D8", input=(8, 8, 3))
    [d] = collapse_warnings(net)
    assert d.layer == "pool3"
    assert "while 2 more convolutions follow (first: conv3); they see" in d.message


def test_floor_warning_counts_pixels_the_stride_would_not_skip():
    # a 2-wide window with stride 3 on 7 pixels (floor): windows start at 0 and 3 and see
    # pixels 0-1 and 3-4; pixels 2 and 5 fall in the gaps the stride leaves anyway, but pixel 6
    # is where the next window would start: 1 row (and 1 column) unseen. Before: nothing, since
    # the window is narrower than the stride.
    [d] = diagnose(archcalc.parse("M2S3", input=(7, 7, 1), rounding="floor"))
    assert ("leaves the last 1 input row and column (height and width 7, window 2, stride 3"
            in d.message)
    # ResNet's 1×1/2 projection on 56: the one pixel left over is a stride gap: no warning
    assert diagnose(archcalc.parse("C1D8S2P0", input=(56, 56, 3), rounding="floor")) == []


def test_exact_rounding_gives_the_error_without_a_floor_warning_too():
    # AlexNet conv1 at 224 without padding: (224 − 11)/4 + 1 = 54.25. Under exact rounding it is
    # one error; the floor warning about the pixel it leaves is only for explicit floor. (The
    # default `covered` mode, which also refuses it, is treated like exact by the same check.)
    exact = diagnose(archcalc.parse("C11D96S4P0", input=(224, 224, 3), rounding="exact"))
    assert [d.severity for d in exact] == ["error"]
    floor = diagnose(archcalc.parse("C11D96S4P0", input=(224, 224, 3), rounding="floor"))
    assert [d.severity for d in floor] == ["warning"] and "unseen" in floor[0].message


def test_fc_share_warning_only_where_global_pooling_would_help():
    # MobileNet v1 at width 0.25 (the paper's Table 6: 0.5 M parameters): its classifier
    # 256·1000 + 1000 = 257,000 parameters is more than half, but it already follows global
    # pooling, so the hint ("global average pooling before the classifier") cannot apply.
    text = re.sub(r"filters: (\d+)", lambda m: f"filters: {int(m.group(1)) // 4}",
                  (SPECS / "mobilenet_v1.yaml").read_text())
    report = archcalc.analyze(archcalc.parse(text))
    assert report.totals.params < 2 * 257_000
    assert report.diagnostics == ()
    # a multilayer perceptron reading the input itself: no pooling to suggest
    assert diagnose(archcalc.parse("FC100 R FC10", input=(28, 28, 1))) == []
    # VGG-style: fc1 reads a flattened 7×7×512 volume (through flatten and dropout): flagged
    vgg = "name: v\ninput: 14x14x512\nlayers: [M, flatten, dropout, FC4096, FC10]\n"
    assert [d.layer for d in diagnose(archcalc.parse(vgg))] == ["fc1"]


def test_an_error_in_a_repeated_word_names_every_layer():
    # (C3D9G2)x2 on 8×8×9: groups 2 divides neither 9 channels nor 9 filters; each conv keeps
    # 8×8×9 after recovery, so the second has the same attributes and input as the first and
    # must still be checked: its error is the first one's, at the same place, so it is reported
    # once, naming both layers (as an error inside a repeated block is)
    diags = diagnose(archcalc.parse("(C3D9G2)x2", input=(8, 8, 9)))
    assert [(d.severity, d.layer) for d in diags] == [("error", "conv1")]
    assert diags[0].message.endswith("(also in conv2)")
    diags = diagnose(archcalc.parse("C3D9G2 C3D9G2", input=(8, 8, 9)))     # two places: two
    assert [(d.severity, d.layer) for d in diags] == [("error", "conv1"), ("error", "conv2")]


def test_repeated_words_on_changing_volumes_keep_their_own_figures():
    # one attributes object, three inputs: 32 → 16 → 8 → 4 (floor of 16.5, 8.5, 4.5), params
    # 3·3·3·8 + 8 = 224, then 3·3·8·8 + 8 = 584 twice; receptive fields 3, 3 + 2·2 = 7,
    # 7 + 2·4 = 15
    r = archcalc.analyze(archcalc.parse("(C3D8S2P1)x3", input=(32, 32, 3), rounding="floor"))
    assert [row.output for row in r.layers[1:]] == [(16, 16, 8), (8, 8, 8), (4, 4, 8)]
    assert [row.params for row in r.layers[1:]] == [224, 584, 584]
    assert [row.rf.size[0] for row in r.layers[1:]] == [3, 7, 15]


def _seconds(n: int, repeat: int) -> float:
    text = f"(C3D16 R)x{n // 2}"
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        archcalc.analyze(archcalc.parse(text, input=(32, 32, 3)))
        best = min(best, time.perf_counter() - t)
    return best


def test_parse_and_analysis_time_grows_linearly():
    # ×10 layers should cost ×10; quadratic work (a scan per layer) would cost ×100. The bound
    # leaves room for a loaded machine; the absolute figures are in benchmarks/bench_scale.py.
    small, large = _seconds(2_000, 7), _seconds(20_000, 3)
    assert large / small < 30, (small, large)


def test_a_gate_multiplied_back_is_not_a_collapse():
    # squeeze-and-excitation with its multiply, then a 3×3 conv on the gated 8×8 volume: the
    # conv sees 8×8 places (the gate only scales channels), so no "1×1 volume" warning
    for merge in ("mul", "add"):
        text = ("name: se\ninput: 8x8x16\nlayers:\n  - {op: conv, name: x, filters: 16}\n"
                "  - {op: global_avgpool, name: squeeze}\n"
                "  - {op: conv, filters: 4, kernel: 1, padding: 0}\n  - R\n"
                "  - {op: conv, filters: 16, kernel: 1, padding: 0}\n"
                "  - {op: sigmoid, name: gate}\n"
                f"  - {{op: {merge}, inputs: [x, gate]}}\n"
                "  - {op: conv, name: after, filters: 8}\n")
        assert diagnose(archcalc.parse(text)) == [], merge


def test_a_layer_nothing_reads_is_reported():
    # conv1 is never read (the add takes conv2 and the input): probably a mistyped input
    text = ("name: u\ninput: 8x8x4\nlayers:\n  - {op: conv, filters: 4}\n"
            "  - {op: conv, name: conv2, inputs: input, filters: 4}\n"
            "  - {op: add, inputs: [conv2, input]}\n")
    (d,) = diagnose(archcalc.parse(text))
    assert d.layer == "conv1" and d.message.startswith("nothing reads conv1")


def test_the_builders_index_is_the_one_the_network_would_build():
    """Builder hands Network the name index and readers it kept while adding layers (so a
    100,000-layer spec is not indexed twice); they must equal what Network builds from the layers
    alone, for every spec language and for branches, splits and blocks."""
    from archcalc.graph import Network
    nets = [archcalc.parse("(C3D16 R)x3 M FC10 S", input=(32, 32, 3)),
            archcalc.parse("C3D16 R C3D16 R", input=(32, 32, 3))]
    nets += [archcalc.load(str(SPECS / f"{n}.yaml"))
             for n in ("googlenet", "resnet50", "shufflenet_v2_x1_0", "efficientnet_b0")]
    for net in nets:
        fresh = Network(net.name, net.input, net.layers)
        assert net.by_name == fresh.by_name
        assert net.consumers == fresh.consumers
        assert list(net.consumers) == list(fresh.consumers)      # in layer order


def test_the_rf_mark_is_explained_under_the_table():
    from conftest import run_cli
    fpn = run_cli("summary", str(SPECS / "fpn_resnet18.yaml")).stdout
    (line,) = [ln for ln in fpn.splitlines() if ln.startswith("RF !:")]
    assert "(merge4 first)" in line and "not aligned" in line
    vgg = run_cli("summary", str(SPECS / "vgg16.yaml")).stdout
    assert "RF !" not in vgg
