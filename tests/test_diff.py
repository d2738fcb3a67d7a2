"""archcalc diff: alignment, the deltas and the gates, on real pairs of networks. Every expected
figure is derived by hand in the comments (from the layers' formulas), not pasted from output."""
import json
import os

import pytest
from conftest import ROOT, run_cli

import archcalc
from archcalc import diff as df
from archcalc.diff import gates
from archcalc.views import diff as diff_view

SPECS = os.path.join(ROOT, "specs")


def spec_text(name: str) -> str:
    with open(os.path.join(SPECS, name), encoding="utf-8") as fh:
        return fh.read()


def write(tmp_path, name: str, text: str) -> str:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return str(p)


def both(a, b, depth=None):
    na = a if isinstance(a, archcalc.Network) else archcalc.load(a)
    nb = b if isinstance(b, archcalc.Network) else archcalc.load(b)
    return df.diff(archcalc.analyze(na), archcalc.analyze(nb), na, nb, depth=depth)


@pytest.fixture
def vgg_fc2048(tmp_path):
    """VGG16 with fc1's 4096 units cut to 2048 (the first FC4096 of the spec)."""
    text = spec_text("vgg16.yaml").replace("FC4096", "FC2048", 1)
    assert text.count("FC2048") == 1
    return write(tmp_path, "vgg16_fc2048.yaml", text)


def test_vgg16_fc1_changed(vgg_fc2048):
    d = both(os.path.join(SPECS, "vgg16.yaml"), vgg_fc2048)
    # fc1: 7·7·512 = 25,088 inputs. params 25,088·4,096 + 4,096 = 102,764,544 before,
    # 25,088·2,048 + 2,048 = 51,382,272 after; fc2: 4,096·4,096 + 4,096 = 16,781,312 before,
    # 2,048·4,096 + 4,096 = 8,392,704 after (its input shrank). Δ = −51,382,272 − 8,388,608.
    assert d.total("params").before == 138_357_544
    assert d.total("params").change == -59_770_880
    assert d.total("params").after == 138_357_544 - 59_770_880
    # MACs: fc1 25,088·4,096 → 25,088·2,048 (−51,380,224); fc2 4,096·4,096 → 2,048·4,096
    # (−8,388,608)
    assert d.total("macs").change == -51_380_224 - 8_388_608
    # activations: fc1 writes 2,048 elements fewer; relu14 and dropout1 run in place (0)
    assert d.total("activations").change == -2048
    # the peak (conv2's 224·224·64 buffers) and the RF before the classifier (pool5: 212) hold
    assert d.total("peak_bytes").change == 0
    assert d.total("rf").before == d.total("rf").after == 212
    assert d.total("rf").where == ("pool5", "pool5")
    # changed: fc1 (units), relu14 and dropout1 (their output volume), fc2 (params, MACs)
    assert [r.name for r in d.changed] == ["fc1", "relu14", "dropout1", "fc2"]
    assert not d.added and not d.removed and not d.rf_only
    fc1 = d.changed[0]
    assert fc1.matched == "name"
    assert [(c.key, c.before, c.after) for c in fc1.changes] == [("units", 4096, 2048)]
    assert fc1.figures["output"] == ((1, 1, 4096), (1, 1, 2048))
    assert fc1.figures["params"] == (102_764_544, 51_382_272)
    fc2 = d.changed[3]
    assert fc2.changes == ()         # its own attributes are the same: only its figures moved
    assert fc2.delta("params") == 8_392_704 - 16_781_312
    # 40 rows: the input, 13 convs and their 13 ReLUs, 5 pools, 3 FCs, 2 ReLUs, 2 dropouts and
    # the softmax; 4 changed
    assert len(d.rows) == 40 and len(d.unchanged) == 36
    # a gate names where the change came from: fc1 then fc2 (the others: 0)
    assert gates.largest_changes(d, "params") == [("fc1", 51_382_272 - 102_764_544),
                                               ("fc2", 8_392_704 - 16_781_312)]
    [gate] = gates.check_gates(d, [gates.parse_gate("params<-5%")])
    # −59,770,880 / 138,357,544 = −43.20%
    assert gate.tripped and "-43.20%" in gate.message and "largest: fc1 −51,382,272" in \
        gate.message


def test_resnet18_to_resnet34_blocks_added():
    d = both(os.path.join(SPECS, "resnet18.yaml"), os.path.join(SPECS, "resnet34.yaml"))
    # ResNet-34 adds basic blocks layer1.2, layer2.2–2.3, layer3.2–3.5 and layer4.2: 1+2+4+1 = 8
    # blocks of 7 layers (conv1 bn1 relu1 conv2 bn2 add relu) = 56 layers, none removed
    assert len(d.added) == 56 and not d.removed
    added_blocks = sorted({r.name.split("/")[0] for r in d.added})
    assert added_blocks == ["layer1.2", "layer2.2", "layer2.3", "layer3.2", "layer3.3",
                            "layer3.4", "layer3.5", "layer4.2"]
    # each added block of width w: two 3×3 convs w→w without bias (9·w² each) and two batch
    # norms (2w each): 18w² + 4w; 64: 73,984; 128: 295,424; 256: 1,180,672; 512: 4,720,640
    per = {64: 18 * 64 ** 2 + 4 * 64, 128: 18 * 128 ** 2 + 4 * 128,
           256: 18 * 256 ** 2 + 4 * 256, 512: 18 * 512 ** 2 + 4 * 512}
    expect = per[64] + 2 * per[128] + 4 * per[256] + per[512]
    assert d.total("params").change == expect == 21_797_672 - 11_689_512   # torchvision's
    # MACs: each added block's two convs at 56², 28², 14², 7² with w² · 9 each:
    # 2·9·w²·s² = 2·9·64²·56² (the same 231,211,008 at every stage, as w doubles when s halves)
    assert d.total("macs").change == 8 * 2 * 9 * 64 ** 2 * 56 ** 2
    # the only changed rows: the layers reading the last block of a stage now read the new one
    assert [r.name for r in d.changed] == [
        "layer2.0/conv1", "layer2.0/downsample.0", "layer3.0/conv1", "layer3.0/downsample.0",
        "layer4.0/conv1", "layer4.0/downsample.0", "avgpool"]
    assert all([c.key for c in r.changes] == ["inputs"] for r in d.changed)
    assert d.changed[0].changes[0].before == ["layer1.1/relu"]
    assert d.changed[0].changes[0].after == ["layer1.2/relu"]
    # the receptive field before global pooling: each added basic block adds 2 convs of 3×3 at
    # the stage's jump (2·2·jump): layer1 jump 4 → +16; layer2 jump 8 → 2·32; layer3 jump 16 →
    # 4·64; layer4 jump 32 → +128: 16 + 64 + 256 + 128 = 464 (435 → 899)
    rf = d.total("rf")
    assert (rf.change, rf.where) == (464, ("layer4.1/relu", "layer4.2/relu"))
    # rows after an added block whose RF alone grew are not "changed"
    assert d.rf_only and all(not r.changes for r in d.rf_only)
    # the table shows each wholly added block as one row (the Report's fold: 7 layers, the
    # sums of their params), the 7 changed rows as they are
    rows = diff_view.layer_rows(d)
    assert [r[1] for r in rows if r[0] == "+"] == added_blocks
    assert len(rows) == 8 + 7
    first = next(r for r in rows if r[1] == "layer1.2")
    assert (first[2], first[3], first[5]) == ("block", "added: 7 layers", f"{per[64]:,}")
    assert "56 added (8 whole blocks)" in diff_view.summary_line(d)


def test_resnet_folded_depth0():
    d = both(os.path.join(SPECS, "resnet18.yaml"), os.path.join(SPECS, "resnet34.yaml"),
             depth=0)
    assert [r.name for r in d.added] == ["layer1.2", "layer2.2", "layer2.3", "layer3.2",
                                         "layer3.3", "layer3.4", "layer3.5", "layer4.2"]
    assert d.added[0].b.op == "block" and d.added[0].figures["params"][1] == 18 * 64 ** 2 + 256
    # the largest added blocks by parameters: layer4.2 (w = 512), then the 256-wide ones
    assert gates.largest_changes(d, "params", 2) == [("layer4.2", 18 * 512 ** 2 + 4 * 512),
                                                  ("layer3.2", 18 * 256 ** 2 + 4 * 256)]
    assert d.total("params").change == 21_797_672 - 11_689_512   # totals do not fold


@pytest.fixture
def mobilenet_075(tmp_path):
    text = spec_text("mobilenet_v2.yaml").replace("width_mult: 1.0", "width_mult: 0.75")
    assert "width_mult: 0.75" in text
    return write(tmp_path, "mobilenet_v2_075.yaml", text)


def test_mobilenet_width_075_names_equal(mobilenet_075):
    d = both(os.path.join(SPECS, "mobilenet_v2.yaml"), mobilenet_075)
    assert not d.added and not d.removed and not d.renamed
    assert all(r.matched == "name" for r in d.rows)
    stem = next(r for r in d.changed if r.name == "stem")
    # make_divisible(32·0.75 = 24) = 24: 3·3·3·32 = 864 → 3·3·3·24 = 648 weights (no bias)
    assert [(c.key, c.before, c.after) for c in stem.changes] == [("filters", 32, 24)]
    assert stem.figures["params"] == (864, 648)
    # the head keeps 1280 filters (max(1.0, width_mult)) but reads 320 → make_divisible(240) =
    # 240 channels: 320·1280 → 240·1280 weights
    head = next(r for r in d.changed if r.name == "head")
    assert head.changes == () and head.figures["params"] == (320 * 1280, 240 * 1280)
    # the classifier reads the 1280 head channels either way: unchanged
    assert next(r for r in d.rows if r.name == "classifier").status == "same"
    # every expand conv is t·in.c wide: stage2.0 reads stage1's 16 channels at both widths
    # (make_divisible(12) = 16), so it keeps 96 filters; stage3.1's reads 32 → 24
    assert next(r for r in d.rows if r.name == "stage2.0/expand").status == "same"
    s31 = next(r for r in d.changed if r.name == "stage3.1/expand")
    assert [(c.key, c.before, c.after) for c in s31.changes] == [("filters", 192, 144)]
    assert d.total("params").change < 0 and d.total("macs").change < 0
    # the totals' deltas are the Reports' totals subtracted
    ra = archcalc.analyze(archcalc.load(os.path.join(SPECS, "mobilenet_v2.yaml")))
    rb = archcalc.analyze(archcalc.load(mobilenet_075))
    assert d.total("params").change == rb.totals.params - ra.totals.params
    assert d.total("peak_bytes").before == ra.totals.peak_bytes


NAMED = """name: small
input: 32x32x3
layers:
  - {op: conv, name: stem, filters: 16, kernel: 3, padding: 1}
  - {op: relu, name: act}
  - {op: conv, name: %s, filters: %d, kernel: 3, padding: 1}
  - {op: relu, name: act2}
  - {op: maxpool, name: pool, kernel: 2, stride: 2}
  - {op: fc, name: head, units: 10}
"""


def test_renamed_layer_matched_by_structure(tmp_path):
    a = write(tmp_path, "a.yaml", NAMED % ("body", 32))
    b = write(tmp_path, "b.yaml", NAMED % ("trunk", 32))
    d = both(a, b)
    assert not d.added and not d.removed
    # renamed, same attributes: matched by its (op, attributes) signature; a rename is a change
    # (of its name alone); act2 reads it under its new name, which the alignment maps: no
    # wiring change on act2
    [r] = d.changed
    assert d.renamed == [r]
    assert (r.a.name, r.b.name, r.matched) == ("body", "trunk", "structure")
    assert [(c.key, c.before, c.after) for c in r.changes] == [("name", "body", "trunk")]
    assert all(before == after for before, after in r.figures.values())
    assert next(x for x in d.rows if x.name == "act2").status == "same"
    assert d.total("params").change == 0 and not d.identical


def test_renamed_and_changed_layer(tmp_path):
    a = write(tmp_path, "a.yaml", NAMED % ("body", 32))
    b = write(tmp_path, "b.yaml", NAMED % ("trunk", 64))
    d = both(a, b)
    assert not d.added and not d.removed
    r = next(r for r in d.rows if r.a is not None and r.a.name == "body")
    # same op at the same place between two name-aligned rows (act, act2): paired
    assert (r.b.name, r.matched, r.status) == ("trunk", "structure", "changed")
    assert [(c.key, c.before, c.after) for c in r.changes] == [("name", "body", "trunk"),
                                                               ("filters", 32, 64)]
    # body: 3·3·16·32 + 32 = 4,640 → 3·3·16·64 + 64 = 9,280; head reads 16·16·32 = 8,192 →
    # 16,384 inputs: 8,192·10 + 10 → 16,384·10 + 10; Δ = 4,640 + 81,920
    assert d.total("params").change == 4_640 + 81_920


def test_spec_string_against_yaml_all_names_differ():
    # the same network written two ways: the string names conv1 relu1 conv2 relu2 pool1 fc1,
    # the YAML stem act body act2 pool head; only "input" is common
    na = archcalc.parse("C3D16 R C3D32 R M FC10", input=(32, 32, 3))
    nb = archcalc.parse(NAMED % ("body", 32))
    d = both(na, nb)
    assert not d.added and not d.removed
    assert [(r.a.name, r.b.name) for r in d.renamed] == [
        ("conv1", "stem"), ("relu1", "act"), ("conv2", "body"), ("relu2", "act2"),
        ("pool1", "pool"), ("fc1", "head")]
    assert all([c.key for c in r.changes] == ["name"] for r in d.changed)
    assert [r.matched for r in d.rows] == ["name"] + ["structure"] * 6
    assert all(t.change == 0 for t in d.totals)


def test_identical_specs():
    d = both(os.path.join(SPECS, "vgg16.yaml"), os.path.join(SPECS, "vgg16.yaml"))
    assert d.identical and not d.changed and not d.added and not d.removed
    assert all(t.change == 0 for t in d.totals)
    assert "no differences" in diff_view.render_text(d)
    assert d.to_dict()["layers"] == []


def test_json_document(vgg_fc2048):
    p = run_cli("diff", "vgg16", vgg_fc2048, "-F", "json")
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    assert doc["schema"] == df.DIFF_SCHEMA and doc["ok"] is True and doc["gates"] == []
    assert doc["a"]["name"] == doc["b"]["name"] == "vgg16"
    totals = {t["key"]: t for t in doc["totals"]}
    assert totals["params"]["change"] == -59_770_880
    assert round(totals["params"]["percent"], 2) == round(-59_770_880 / 138_357_544 * 100, 2)
    assert doc["counts"]["changed"] == 4
    fc1 = doc["layers"][0]
    assert fc1["name"] == "fc1" and fc1["status"] == "changed"
    assert fc1["changes"] == [{"key": "units", "before": 4096, "after": 2048}]
    assert fc1["figures"]["output"] == {"before": [1, 1, 4096], "after": [1, 1, 2048]}
    assert fc1["delta"]["params"] == 51_382_272 - 102_764_544


def test_table_shows_totals_first_then_rows(vgg_fc2048):
    p = run_cli("diff", "vgg16", vgg_fc2048)
    assert p.returncode == 0, p.stderr
    out = p.stdout
    assert out.index("parameters") < out.index("layers: 4 changed") < out.index("fc1")
    assert "138,357,544" in out and "78,586,664" in out and "−59,770,880" in out
    assert "units 4096 → 2048" in out


def test_markdown(vgg_fc2048):
    p = run_cli("diff", "vgg16", vgg_fc2048, "--format", "markdown")
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert lines[0].startswith("## diff: vgg16")
    assert "| total | A | B | change |" in lines
    row = next(line for line in lines if line.startswith("| ~ | fc1 |"))
    assert "units 4096 → 2048" in row


def test_gates_trip_and_pass():
    # ResNet-18 → 34: parameters +86.5% (21,797,672 / 11,689,512 − 1), MACs +1.85 G
    p = run_cli("diff", "resnet18", "resnet34", "--fail-on", "params>+5%")
    assert p.returncode == 1
    assert "FAILED params>+5%" in p.stdout and "+86.47%" in p.stdout
    p = run_cli("diff", "resnet18", "resnet34", "--fail-on", "params>+90%",
                "--fail-on", "macs>+2G", "--fail-on", "rf<-10%")
    assert p.returncode == 0, p.stdout
    p = run_cli("diff", "resnet18", "resnet34", "--fail-on", "macs>+1G", "-F", "json")
    assert p.returncode == 1
    doc = json.loads(p.stdout)
    assert doc["ok"] is False and doc["gates"][0]["tripped"] is True
    assert "--fail-on macs>+1G" in p.stderr
    # a shrink: 34 → 18 is 11,689,512 / 21,797,672 − 1 = −46.4% of the parameters
    p = run_cli("diff", "resnet34", "resnet18", "--fail-on", "params<-40%")
    assert p.returncode == 1 and "-46.37%" in p.stdout
    p = run_cli("diff", "resnet34", "resnet18", "--fail-on", "params<-50%")
    assert p.returncode == 0


@pytest.mark.parametrize("gate", ["params>>5%", "flop>+5%", "params", "params>+5x",
                                  "params=5%", "peak>+10Mb"])
def test_malformed_gate_is_usage_error(gate):
    p = run_cli("diff", "vgg16", "vgg16", "--fail-on", gate)
    assert p.returncode == 2
    assert "--fail-on" in p.stderr and "METRIC OP" in p.stderr      # the grammar in the hint
    assert "Traceback" not in p.stderr
    p = run_cli("diff", "vgg16", "vgg16", "--fail-on", gate, "-F", "json")
    assert p.returncode == 2 and json.loads(p.stdout)["ok"] is False


def test_parse_gate_values():
    g = gates.parse_gate("peak >= +10Mi")
    assert (g.metric, g.op, g.limit, g.relative) == ("peak_bytes", ">=", 10 * 2 ** 20, False)
    # the one grammar of amounts: MiB and MB as budgets read them (10Mb, bits, is refused)
    assert gates.parse_gate("peak>+10MiB").limit == 10 * 2 ** 20
    assert gates.parse_gate("peak>+10MB").limit == 10 ** 7
    # a gate for every total diff prints
    for metric in ("training>+1GiB", "flops>+5%", "buffers>0", "param_bytes>+1MB"):
        gates.parse_gate(metric)
    g = gates.parse_gate("rf<-10%")
    assert (g.metric, g.op, g.limit, g.relative) == ("rf", "<", -10.0, True)
    assert gates.parse_gate("macs>1.5G").limit == 1.5e9


def test_specs_with_errors_are_reported_as_validate_does(tmp_path):
    bad_a = write(tmp_path, "a.yaml", "name: a\ninput: 224x224x3\nlayers:\n  - C11D96S4P0\n")
    bad_b = write(tmp_path, "b.yaml", "name: b\ninput: 32x32x3\nlayers:\n  - C3D16 Q7\n")
    p = run_cli("diff", bad_a, bad_b)
    assert p.returncode == 1
    for spec in (bad_a, bad_b):
        v = run_cli("validate", spec)
        assert v.returncode == 1
        report = v.stdout.rsplit("\n", 2)[0]      # every diagnostic, without the count line
        assert ": error" in report and report in p.stderr, (report, p.stderr)
    p = run_cli("diff", bad_a, bad_b, "-F", "json")
    doc = json.loads(p.stdout)
    assert p.returncode == 1 and doc["errors"] == 2
    assert {d["file"] for d in doc["diagnostics"]} == {bad_a, bad_b}


def test_table_columns_and_stdin_once():
    # two columns of the VGG table, --column twice: C's third conv of blocks 3–5 is 1×1, D's
    # 3×3: three layers changed, nothing added
    p = run_cli("diff", "specs/vgg_table.md", "specs/vgg_table.md", "-c", "C", "-c", "D",
                "-F", "json")
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    assert doc["counts"]["added"] == 0 and doc["counts"]["removed"] == 0
    changed = [r for r in doc["layers"] if r["status"] == "changed"]
    kernels = [c for r in changed for c in r["changes"] if c["key"] == "kernel"]
    assert len(kernels) == 3 and all(c["before"] == [1, 1] and c["after"] == [3, 3]
                                     for c in kernels)
    # C's 1×1 convs of blocks 3–5 become 3×3 in D: 8·256² (block 3) + 8·512² twice (blocks 4,
    # 5) more weights = 524,288 + 2·2,097,152 = 4,718,592 (Table 2: 134 M → 138 M); MACs: each
    # extra weight runs at its output's h·w: 524,288·56² + 2,097,152·(28² + 14²)
    totals = {t["key"]: t for t in doc["totals"]}
    assert totals["params"]["change"] == 4_718_592
    assert totals["params"]["after"] == 138_357_544
    assert totals["macs"]["change"] == 524_288 * 56 ** 2 + 2_097_152 * (28 ** 2 + 14 ** 2)
    # pool5's RF: each 1×1 → 3×3 adds 2 jumps: 2·4 + 2·8 + 2·16 = 56 (156 → 212, D's)
    assert (totals["rf"]["before"], totals["rf"]["after"]) == (156, 212)
    p = run_cli("diff", "-", "-")
    assert p.returncode == 2 and "only once" in p.stderr


def test_summary_does_not_import_diff():
    from conftest import imported_by
    modules, _ = imported_by("summary", "specs/vgg16.yaml")
    assert "archcalc.diff" not in modules


def test_layer_inserted_in_a_spec_string():
    # a spec string names layers by position: inserting C3D64 after pool1 renames the old conv2
    # conv3. Aligning by name would call conv2 changed (128 → 64 filters), conv3 added and pool2
    # rewired (3 rows); by structure it is conv2 added and conv2 → conv3 rewired (2 rows), which
    # wins
    na = archcalc.parse("C3D64 M C3D128 M FC10", input=(32, 32, 3))
    nb = archcalc.parse("C3D64 M C3D64 C3D128 M FC10", input=(32, 32, 3))
    d = both(na, nb)
    [added] = d.added
    assert added.b.name == "conv2" and added.b.params == 3 * 3 * 64 * 64 + 64     # 36,928
    [moved] = d.changed
    assert (moved.a.name, moved.b.name, moved.matched) == ("conv2", "conv3", "structure")
    assert [(c.key, c.before, c.after) for c in moved.changes] == [
        ("name", "conv2", "conv3"), ("inputs", ["pool1"], ["conv2"])]
    assert moved.figures["params"] == (3 * 3 * 64 * 128 + 128,) * 2
    assert d.total("params").change == 36_928
    # the added conv runs at 16×16 (after the pool) with 3·3·64 MACs per output element
    assert d.total("macs").change == 16 * 16 * 64 * 9 * 64


def test_renumbered_rows_are_not_listed():
    # C3D8 in front: conv1 → conv2 reads 8 channels instead of 3 (changed: 3·3·3·16 + 16 = 448
    # → 3·3·8·16 + 16 = 1,168 parameters); conv2 → conv3 and conv3 → conv4 differ only in the
    # closing number of their names: renumbered, not listed; the ReLUs keep their names
    na = archcalc.parse("(C3D16 R)x3", input=(32, 32, 3))
    nb = archcalc.parse("C3D8 (C3D16 R)x3", input=(32, 32, 3))
    d = both(na, nb)
    assert [r.b.name for r in d.added] == ["conv1"]
    assert [(r.a.name, r.b.name) for r in d.changed] == [("conv1", "conv2")]
    assert d.changed[0].figures["params"] == (448, 1168)
    assert [(r.a.name, r.b.name) for r in d.renumbered] == [("conv2", "conv3"),
                                                            ("conv3", "conv4")]
    assert d.total("params").change == 3 * 3 * 3 * 8 + 8 + 1168 - 448
    assert [r[1] for r in diff_view.layer_rows(d)] == ["conv1", "conv1 → conv2"]
    assert "2 only renumbered (conv2 → conv3" in diff_view.summary_line(d)
    assert df.renumbered("stage1/relu4", "stage1/relu5")
    assert not df.renumbered("layer1.1/conv1", "layer1.2/conv1")
    assert not df.renumbered("fc1", "head")


def test_rich_view_on_a_terminal():
    import io

    from rich.console import Console
    na, nb = archcalc.load(os.path.join(SPECS, "resnet18.yaml")), \
        archcalc.load(os.path.join(SPECS, "resnet34.yaml"))
    d = df.diff(archcalc.analyze(na), archcalc.analyze(nb), na, nb)
    console = Console(file=io.StringIO(), force_terminal=True, width=160, no_color=True)
    diff_view.render_rich(d, gates.check_gates(d, [gates.parse_gate("params>+5%")]),
                          console=console)
    out = console.file.getvalue()
    assert "+10,108,160 (+86.5%)" in out          # 21,797,672 − 11,689,512
    assert out.index("parameters") < out.index("layer1.2") and "FAILED params>+5%" in out


def test_depth_option_on_the_command_line():
    p = run_cli("diff", "resnet18", "resnet34", "--depth", "0", "-F", "json")
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    assert doc["depth"] == 0 and doc["counts"]["added"] == 8      # 8 whole basic blocks
    assert {r["op_after"] for r in doc["layers"] if r["status"] == "added"} == {"block"}


def test_relative_gate_on_a_figure_that_was_zero():
    # "M" has no parameters; "C3D8" on 8×8×3 has 3·3·3·8 + 8 = 224: no percentage of 0 exists,
    # so a relative gate cannot be checked and trips; an absolute one compares 224 with 100
    na = archcalc.parse("M", input=(8, 8, 3))
    nb = archcalc.parse("C3D8", input=(8, 8, 3))
    d = both(na, nb)
    [rel, absolute, other] = gates.check_gates(d, [gates.parse_gate("params>+5%"),
                                                gates.parse_gate("params>+100"),
                                                gates.parse_gate("params>+224")])
    assert rel.tripped and "cannot be checked" in rel.message
    assert absolute.tripped and "+224" in absolute.message
    assert not other.tripped
    p = run_cli("diff", "M", "C3D8", "-i", "8x8x3", "--fail-on", "params>+5%")
    assert p.returncode == 1 and "cannot be checked" in p.stdout


def test_training_only_turned_on_is_spelled_as_yaml_and_weights_are_inferences(tmp_path):
    spec = ("name: aux\ninput: 16x16x3\nlayers:\n  - {op: conv, name: c, filters: 4}\n"
            "  - {op: fc, name: head, inputs: c, units: 2, train_only: TRAIN}\n"
            "  - {op: fc, name: out, inputs: c, units: 3}\n")
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    a.write_text(spec.replace("TRAIN", "true"))
    b.write_text(spec.replace("TRAIN", "false").replace("outputs", ""))
    p = run_cli("diff", str(a), str(b))
    assert p.returncode == 0, p.stderr
    assert "train_only true → false" in p.stdout
    # the head's 16·16·4·2 + 2 = 2,050 weights join what inference loads
    (line,) = [ln for ln in p.stdout.splitlines() if ln.startswith("weights inference loads")]
    assert "+8,200 B" in line            # 2,050 × 4 bytes


def test_an_inserted_conv_is_the_one_added_not_a_neighbour_grown():
    a = archcalc.analyze(archcalc.parse("C3D16 R C3D32 R M FC10", input=(32, 32, 3)))
    b = archcalc.analyze(archcalc.parse("C3D16 R C3D16 R C3D32 R M FC10", input=(32, 32, 3)))
    d = df.diff(a, b)
    # B's second conv (16 → 16 channels: 3·3·16·16 + 16 = 2,320 weights) and its ReLU are new;
    # A's convs match B's first and third unchanged in their figures (448 and 3·3·16·32 + 32 =
    # 4,640); the third reads the inserted ReLU now (rewired)
    assert [r.b.name for r in d.rows if r.status == "added"] == ["conv2", "relu2"]
    changed = [r for r in d.rows if r.status == "changed"]
    assert [(r.a.name, r.b.name, r.a.params, r.b.params) for r in changed] == \
        [("conv2", "conv3", 4640, 4640)]
    assert d.total("params").change == 2320


def test_rich_view_in_an_80_column_terminal_goes_compact():
    import io

    from rich.console import Console
    na, nb = archcalc.load(os.path.join(SPECS, "vgg16.yaml")), \
        archcalc.load(os.path.join(SPECS, "resnet18.yaml"))
    d = df.diff(archcalc.analyze(na), archcalc.analyze(nb), na, nb)
    console = Console(file=io.StringIO(), force_terminal=True, width=80, no_color=True)
    diff_view.render_rich(d, console=console)
    out = console.file.getvalue()
    # the totals in short form (138,357,544 → 138.36M, no exact bytes), the layer table with
    # its least needed columns hidden and said so
    assert "138.36M" in out and " B)" not in out
    assert "(hidden at 80 columns: RF" in out
