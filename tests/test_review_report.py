"""archcalc report: the one-file HTML review, its Markdown version, the plots' figures, and
Report._repr_html_. Values are derived by hand for small networks; the page is read back with
real parsers (html.parser, xml.etree) and, where Chromium is installed, rendered by it."""
import os
import re
import shutil
import stat
import subprocess
import sys
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import pytest
from conftest import ROOT, imported_by, run_cli, run_cli_process

import archcalc
from archcalc.views.report import series as figures

RESIDUAL = """
name: tiny_residual
input: 4x4x2
layers:
  - {op: conv, name: c1, filters: 2, kernel: 3, padding: 1}
  - {op: conv, name: c2, filters: 2, kernel: 3, padding: 1}
  - {op: add, name: s, inputs: [c2, input]}
"""


def _report(text, input=None):
    net = archcalc.parse(text, input)
    return net, archcalc.analyze(net)


# ---------------------------------------------------------------------------------------------
# the figures the plots show

def test_live_curve_by_hand_for_a_chain():
    # 8×8×3 input (192 elements); conv1 writes 8×8×8 = 512 while the input is alive (704), then
    # the input is freed; relu is in place (512); pool1 writes 4×4×8 = 128 while conv1's buffer
    # is alive (640); conv2 writes 4×4×16 = 256 while pool1's is alive (384). fp32: 4 B each.
    net, rep = _report("C3D8 R M C3D16", "8x8x3")
    curve = figures.live_curve(net, rep)
    assert [p.name for p in curve] == ["input", "conv1", "relu1", "pool1", "conv2"]
    assert [p.live_bytes for p in curve] == [4 * n for n in (192, 704, 512, 640, 384)]
    assert [p.activation_bytes for p in curve] == [4 * n for n in (192, 512, 0, 128, 256)]
    assert max(p.live_bytes for p in curve) == rep.totals.peak_bytes == 4 * 704


def test_live_curve_by_hand_for_a_skip_connection_and_a_batch():
    # every tensor 4×4×2 = 32 elements; the input stays alive until the add reads it:
    # input 32; c1 64; c2 96 (then c1 is freed: 64); s 96 (then c2 and the input: 32).
    net = archcalc.parse(RESIDUAL)
    rep = archcalc.analyze(net, dtype="fp16", batch=3)
    curve = figures.live_curve(net, rep)
    assert [p.live_bytes for p in curve] == [2 * 3 * n for n in (32, 64, 96, 96)]
    assert max(p.live_bytes for p in curve) == rep.totals.peak_bytes == 2 * 3 * 96


@pytest.mark.parametrize("name", ["resnet50", "googlenet", "densenet121", "fpn_resnet18",
                                  "inception_v3", "unet"])
def test_live_curve_peak_is_the_reports_peak_on_shipped_specs(name):
    net = archcalc.load(str(ROOT / "specs" / f"{name}.yaml"))
    rep = archcalc.analyze(net)
    curve = figures.live_curve(net, rep)
    top = max(curve, key=lambda p: p.live_bytes)
    assert top.live_bytes == rep.totals.peak_bytes
    assert top.name == rep.totals.peak_layer
    assert len(curve) == sum(1 for r in rep.layers if not r.train_only)


def test_training_parts_by_hand():
    # conv1 3·3·3·8 + 8 = 224 params, conv2 3·3·8·16 + 16 = 1,168: 1,392, all trainable;
    # adam, fp32, batch 1 (docs/training-memory.md). The peak comes in the backward pass as
    # ReLU makes its gradient: weights 4·1,392, the input 4·192, Adam's 2 states 8·1,392,
    # conv2's weight gradients 4·1,168 (conv1's come later), ReLU's output still kept for
    # its backward (4·512), and the rest: conv2's output (the network's, 4·256), the gradient
    # max pooling made of ReLU's output (4·512) and ReLU's own (4·512). Over the optimizer
    # step's 28,608 (weights + input + 2 states + gradients + the foreach square root)
    _, rep = _report("C3D8 R M C3D16", "8x8x3")
    parts = figures.training_parts(rep)
    assert [(p.label, p.bytes) for p in parts] == [
        ("weights and buffers", 4 * 1392), ("input batch", 4 * 192),
        ("optimizer state (adam)", 8 * 1392), ("gradients", 4 * 1168),
        ("saved for backward", 4 * 512),
        ("other activations and their gradients", 4 * (256 + 512 + 512))]
    assert sum(p.bytes for p in parts) == rep.totals.training_bytes == 29_312


def test_training_parts_with_attention_by_hand(tmp_path):
    # tokens of a 4×4×8 map: 16 tokens; attention with 2 heads: q, k, v and the output
    # projection 4·(8·8 + 8) = 288 params; adam, fp32, batch 1. Kept for backward: the tokens
    # (the input, a view of it), q, k, v (3·8 per token) and the heads' output (8 per token):
    # 4·8·16·4 B, a log-sum-exp per head and token (2·16·4 B). The forward pass ends with
    # weights 1,152 + states 2,304 + input 512 + those 2,176 + the output 512 = 6,656; the
    # backward pass adds the tokens' gradient (512) and the weights' (1,152): 8,320, over the
    # optimizer step (1,152 + 512 + 2,304 + 1,152 + 1,152 = 6,272)
    _, rep = _report("input: 4x4x8\nlayers:\n  - {op: tokens}\n  - {op: attention, heads: 2}\n")
    parts = {p.label: p.bytes for p in figures.training_parts(rep)}
    assert parts == {"weights and buffers": 1152, "input batch": 512,
                     "optimizer state (adam)": 2304, "gradients": 1152,
                     "saved for backward": 2176, "other activations and their gradients": 1024}
    assert rep.totals.training_bytes == 8320
    spec = tmp_path / "a.yaml"
    spec.write_text("input: 4x4x8\nlayers:\n  - {op: tokens}\n  - {op: attention, heads: 2}\n")
    p = run_cli("report", str(spec), "-o", str(tmp_path / "a.html"))
    assert p.returncode == 0, p.stderr


def test_rf_growth_by_hand():
    # 3×3 conv: 3; relu: 3; 2×2/2 pool: 4 (jump 2); 3×3 conv: 4 + 2·2 = 8
    _, rep = _report("C3D8 R M C3D16", "8x8x3")
    assert [p.size for p in figures.rf_growth(rep)] == [1, 3, 3, 4, 8]


# ---------------------------------------------------------------------------------------------
# the HTML page

class Page(HTMLParser):
    """Every tag with its attributes, and the rows of the layer table (class of each tr)."""

    def __init__(self):
        super().__init__()
        self.tags, self.rows, self.in_layers, self.in_body = [], [], 0, False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append((tag, a))
        if tag == "table" and "ac" in (a.get("class") or "").split() and \
                "totals" not in (a.get("class") or ""):
            self.in_layers += 1
        if tag == "tbody":
            self.in_body = True
        if tag == "tr" and self.in_layers and self.in_body:
            self.rows.append(a.get("class") or "")

    def handle_endtag(self, tag):
        if tag == "table" and self.in_layers:
            self.in_layers -= 1
        if tag == "tbody":
            self.in_body = False


def svgs(text):
    """The outermost <svg>…</svg> elements of a page."""
    out, depth, start = [], 0, 0
    for m in re.finditer(r"<svg\b|</svg>", text):
        if m.group() == "<svg":
            if depth == 0:
                start = m.start()
            depth += 1
        else:
            depth -= 1
            if depth == 0:
                out.append(text[start:m.end()])
    return out


def assert_offline(text):
    """No external URL of any kind: no scheme, no protocol-relative //, and every src= or
    href= either a data: URL or an anchor in the page."""
    assert not re.search(r"(?i)\b(https?|ftp|file):", text), \
        re.search(r"(?i).{40}\b(https?|ftp|file):.{40}", text).group()
    assert "//" not in text, text[text.index("//") - 60:text.index("//") + 60]
    p = Page()
    p.feed(text)
    for tag, attrs in p.tags:
        for k in ("src", "href", "xlink:href", "action", "poster", "data"):
            v = attrs.get(k)
            if v is not None:
                assert v.startswith(("#", "data:")), (tag, k, v)
    assert not [t for t, a in p.tags if t in ("link", "iframe", "img", "object", "embed")
                and not (a.get("src") or "data:").startswith("data:")]


try:                           # the report extra: without it, the pages are made --no-plots
    import pygal  # noqa: F401
    PLOTS = True
except ImportError:
    PLOTS = False


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    d = tmp_path_factory.mktemp("reports")
    out = {}
    for name in ("vgg16", "resnet50", "googlenet"):
        p = run_cli("report", name, "-o", str(d / f"{name}.html"),
                    *([] if PLOTS else ["--no-plots"]))
        assert p.returncode == 0, p.stderr
        out[name] = d / f"{name}.html"
    return out


@pytest.mark.parametrize("name", ["vgg16", "resnet50", "googlenet"])
def test_html_parses_is_offline_and_every_svg_is_xml(pages, name):
    text = pages[name].read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>")
    assert_offline(text)
    found = svgs(text)
    assert len(found) == 4 * PLOTS + 2        # the four plots, the volumes and the graph
    for svg in found:
        root = ET.fromstring(svg)
        assert root.tag == "svg"


@pytest.mark.parametrize("name", ["vgg16", "resnet50", "googlenet"])
def test_html_table_has_one_row_per_layer(pages, name):
    rep = archcalc.analyze(archcalc.load(str(ROOT / "specs" / f"{name}.yaml")))
    p = Page()
    p.feed(pages[name].read_text(encoding="utf-8"))
    blocks = [c for c in p.rows if c.startswith("blk")]
    layers = [c for c in p.rows if not c.startswith("blk")]
    assert len(layers) == len(rep.layers)
    assert len(blocks) == sum(1 for r in rep.rows(0) if r.op == "block")


def test_html_names_settings_totals_and_every_warning(pages):
    text = pages["vgg16"].read_text(encoding="utf-8")
    rep = archcalc.analyze(archcalc.load(str(ROOT / "specs" / "vgg16.yaml")))
    assert "<h2>vgg16</h2>" in text and "batch 1" in text and "optimizer adam" in text
    assert "138,357,544" in text                       # torchvision's VGG16 parameters
    assert rep.diagnostics
    for d in rep.diagnostics:
        from html import escape
        # the place names the spec as it was given (vgg16), not the install's path
        assert escape(d.message) in text and f"vgg16:{d.pos.line}:{d.pos.col}" in text
        assert str(d.pos) not in text


def test_several_specs_compare_side_by_side(tmp_path):
    out = tmp_path / "table.html"
    p = run_cli("report", "specs/vgg_table.md", "-o", str(out),
                *([] if PLOTS else ["--no-plots"]))
    assert p.returncode == 0, p.stderr
    text = out.read_text(encoding="utf-8")
    assert "Side by side" in text and text.count("<section ") == 6
    assert_offline(text)
    assert len(svgs(text)) == 6 * (4 * PLOTS + 2)
    ids = re.findall(r'\bid="([^"]+)"', text)
    assert len(ids) == len(set(ids))        # each chart's and drawing's ids stay its own


def test_folding_without_javascript_hides_a_blocks_layers_until_asked(pages):
    text = pages["resnet50"].read_text(encoding="utf-8")
    assert re.search(r'<tr class="in[^"]*" hidden>', text)
    assert 'onclick="acToggle(this)"' in text and 'onclick="acSort(this)"' in text


# ---------------------------------------------------------------------------------------------
# Markdown

def test_markdown_and_its_plot_files(tmp_path):
    pytest.importorskip("pygal", reason="the plots need the report extra")
    out = tmp_path / "review.md"
    p = run_cli("report", "googlenet", "-o", str(out))
    assert p.returncode == 0, p.stderr
    text = out.read_text(encoding="utf-8")
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    # the four plots and the volume drawing
    assert len(links) == 5 and all(link.startswith("review_files/") for link in links)
    for link in links:
        ET.parse(tmp_path / link)                       # each file exists and is SVG (XML)
    rep = archcalc.analyze(archcalc.load(str(ROOT / "specs" / "googlenet.yaml")))
    rows = [line for line in text.splitlines() if line.startswith("| ")]
    assert len(rows) == 1 + len(rep.layers)              # the header and one row per layer
    assert "### Totals" in text and "### Warnings" in text
    mermaid = text.split("```mermaid\n", 1)[1].split("```", 1)[0]
    from archcalc.views import draw as graph
    assert mermaid == graph.to_mermaid(archcalc.load(str(ROOT / "specs" / "googlenet.yaml")),
                                       rep, depth=graph.fit_depth(rep))
    assert sorted(os.listdir(tmp_path)) == ["review.md", "review_files"]   # no temporary left


# ---------------------------------------------------------------------------------------------
# bad input

def test_bad_output_paths_and_formats_exit_2_without_writing(tmp_path):
    p = run_cli("report", "vgg16", "-o", str(tmp_path / "missing" / "r.html"))
    assert p.returncode == 2 and "-o" in p.stderr and "mkdir" in p.stderr
    p = run_cli("report", "vgg16", "-o", str(tmp_path / "r.pdf"))
    assert p.returncode == 2 and "unknown report format '.pdf'" in p.stderr
    assert ".html" in p.stderr and ".md" in p.stderr
    p = run_cli("report", "vgg16", "-o", str(tmp_path))
    assert p.returncode == 2
    assert os.listdir(tmp_path) == []
    p = run_cli("report", "vgg16")
    assert p.returncode == 2 and "Traceback" not in p.stderr


def test_a_spec_with_errors_is_refused_with_validates_diagnostics(tmp_path):
    out = tmp_path / "r.html"
    out.write_text("before")
    bad = "C3D64 M C3D128 M C11D256 S3"
    p = run_cli("report", bad, "-i", "32x32x3", "-o", str(out))
    v = run_cli("validate", bad, "-i", "32x32x3")
    assert p.returncode == v.returncode == 1
    errors = [line for line in v.stdout.splitlines() if ": error: " in line]
    assert errors and all(e in p.stderr for e in errors)
    assert out.read_text() == "before"                  # untouched
    assert os.listdir(tmp_path) == ["r.html"]


# ---------------------------------------------------------------------------------------------
# imports and Jupyter

def test_summary_imports_neither_the_report_nor_pygal():
    modules, _ = imported_by("summary", "specs/vgg16.yaml")
    assert [m for m in modules if m.startswith(("archcalc.views.report", "pygal"))] == []


def test_report_repr_html_is_a_table_of_every_layer_without_plots_or_pygal():
    code = ("import sys, archcalc\n"
            "r = archcalc.analyze(archcalc.load('specs/resnet18.yaml'))\n"
            "h = r._repr_html_()\nprint(len(r.layers), h.count('<tr>'), 'pygal' in sys.modules,"
            " '<svg' in h, '<script' in h)")
    # a fresh interpreter: whether pygal gets imported cannot be seen in this one
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert p.returncode == 0, p.stderr
    n, trs, pygal, svg, script = p.stdout.split()
    # the totals: parameters, buffers (BatchNorm), MACs, FLOPs, activations, peak, inference
    # memory, training estimate: 8 lines
    # the header, one row per layer, the totals: parameters, buffers, MACs, FLOPs, activations,
    # peak activations, memory (inference), inference peak, training step, training terms
    assert int(trs) == int(n) + 1 + 10
    assert (pygal, svg, script) == ("False", "False", "False")
    page = Page()
    page.feed(archcalc.analyze(archcalc.parse("C3D8 R M", "8x8x3"))._repr_html_())
    assert [t for t, _ in page.tags].count("details") == 1     # the table folds under it


# ---------------------------------------------------------------------------------------------
# a real browser

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or \
    shutil.which("google-chrome")

# run after the page loads: sort by MACs twice, unfold every block, and say what happened
PROBE = """<script>
window.addEventListener('load', function () {
  var th = [].filter.call(document.querySelectorAll('th'), function (h) {
    return h.textContent.indexOf('MACs') === 0; })[0];
  acSort(th); acSort(th);
  var b = document.querySelector('button[onclick^="acAll"]'); if (b) acAll(b, true);
  var hidden = document.querySelectorAll('tr[hidden]').length;
  var first = document.querySelector('table.ac tbody td:nth-child(7)');
  document.title = 'PROBE hidden=' + hidden + ' first=' + first.dataset.v;
});
</script>"""


@pytest.mark.skipif(CHROMIUM is None, reason="no headless Chromium installed (Debian: "
                                             "apt-get install -y chromium)")
@pytest.mark.parametrize("name", ["vgg16", "resnet50", "googlenet"])
def test_a_browser_renders_the_report_without_console_errors(pages, name, tmp_path):
    page = pages[name]
    shot = tmp_path / f"{name}.png"
    base = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
            "--enable-logging=stderr", "--v=0", "--user-data-dir=" + str(tmp_path / "profile")]
    p = subprocess.run(base + ["--window-size=1280,3000", f"--screenshot={shot}",
                               page.as_uri()], capture_output=True, text=True, timeout=120)
    console = [line for line in p.stderr.splitlines() if ":CONSOLE" in line]
    assert console == [], console
    assert shot.exists() and shot.stat().st_size > 20_000      # a page, not a blank
    keep = os.environ.get("ARCHCALC_SCREENSHOTS")             # to look at them
    if keep:
        shutil.copy(shot, os.path.join(keep, shot.name))
    # the page's JavaScript: sorting and unfolding run without errors and do what they say
    probe = tmp_path / "probe.html"
    probe.write_text(page.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"),
                     encoding="utf-8")
    p = subprocess.run(base + ["--dump-dom", probe.as_uri()], capture_output=True, text=True,
                       timeout=120)
    console = [line for line in p.stderr.splitlines() if ":CONSOLE" in line]
    assert console == [], console
    title = re.search(r"<title>PROBE hidden=(\d+) first=(\d+)</title>", p.stdout)
    assert title, p.stdout[:300]
    rep = archcalc.analyze(archcalc.load(str(ROOT / "specs" / f"{name}.yaml")))
    assert int(title.group(1)) == 0                              # every block unfolded
    assert int(title.group(2)) == max(r.macs for r in rep.rows(0))   # descending by MACs


def test_without_pygal_the_report_says_how_to_get_it_and_no_plots_still_works(tmp_path):
    shadow = tmp_path / "shadow"
    shadow.mkdir()
    (shadow / "pygal.py").write_text(          # as where pygal is not installed
        "raise ModuleNotFoundError('No module named pygal', name='pygal')\n")
    env = {"PYTHONPATH": os.pathsep.join([str(shadow),
                                          os.environ.get("PYTHONPATH", "")])}
    out = tmp_path / "r.html"
    # processes of their own: PYTHONPATH is read when an interpreter starts
    p = run_cli_process("report", "lenet5", "-o", str(out), env=env)
    assert p.returncode == 2 and "pip install 'archcalc[report]'" in p.stderr
    assert "--no-plots" in p.stderr and not out.exists()
    p = run_cli_process("report", "lenet5", "-o", str(out), "--no-plots", env=env)
    assert p.returncode == 0, p.stderr
    text = out.read_text(encoding="utf-8")
    assert_offline(text)
    assert len(svgs(text)) == 2 and "<h3>Volumes</h3>" in text      # the drawings, no plots
    assert "<h3>Totals</h3>" in text


def test_network_repr_svg_is_the_volume_drawing():
    net = archcalc.parse("C3D8 R M C3D16 FC10", "8x8x3")
    svg = net._repr_svg_()
    root = ET.fromstring(svg)
    assert root.tag.endswith("svg")
    from archcalc.views.draw import volumes
    assert svg == volumes.to_svg(net, archcalc.analyze(net))


def test_two_specs_get_the_diff_of_what_changed(tmp_path):
    # conv 3×3 on 3 channels: 8 filters 3·3·3·8 + 8 = 224 parameters, 16 filters 448: +224
    html_out, md_out = tmp_path / "d.html", tmp_path / "d.md"
    for out in (html_out, md_out):
        p = run_cli("report", "C3D8", "C3D16", "-i", "8x8x3", "-o", str(out), "--no-plots")
        assert p.returncode == 0, p.stderr
    text = html_out.read_text(encoding="utf-8")
    assert "What changed" in text and "+224 (+100.0%)" in text
    assert_offline(text)
    assert "+224 (+100.0%)" in md_out.read_text(encoding="utf-8")


def test_a_network_too_large_to_draw_is_folded_and_says_so(tmp_path):
    out = tmp_path / "r.md"
    p = run_cli("report", "resnet152", "-o", str(out), "--no-plots")
    assert p.returncode == 0, p.stderr
    text = out.read_text(encoding="utf-8")
    # 514 layers (and the input) are more than a drawing holds: the blocks fold to 57 rows
    # (input, conv1, bn1, relu, maxpool, 3 + 8 + 36 + 3 bottlenecks, avgpool, fc)
    assert "514 layers: blocks nested deeper than 0 are folded (57 boxes;" in text
    assert text.count("```mermaid") == 1


def test_an_unwritable_output_is_one_error_not_a_crash(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        for name in ("r.html", "r.md"):
            p = run_cli("report", "lenet5", "-o", str(locked / name), "--no-plots")
            if os.geteuid() == 0:           # root writes anyway: checked below on /sys
                continue
            assert p.returncode == 2 and f"archcalc cannot create files in {locked}" in \
                p.stderr, p.stderr
            assert "internal error" not in p.stderr
    finally:
        locked.chmod(0o700)
    if os.geteuid() == 0 and os.path.isdir("/sys/kernel"):     # read-only even for root
        for name in ("/sys/kernel/archcalc-r.html", "/sys/kernel/archcalc-r.md"):
            p = run_cli("report", "lenet5", "-o", name, "--no-plots")
            # refused before any work: archcalc cannot create its file beside the output
            assert p.returncode == 2 and "archcalc cannot create files in /sys/kernel" in \
                p.stderr, p.stderr


def test_the_markdown_folder_has_the_usual_permissions(tmp_path):
    p = run_cli("report", "lenet5", "-o", str(tmp_path / "r.md"), "--no-plots")
    assert p.returncode == 0, p.stderr
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE((tmp_path / "r_files").stat().st_mode) == 0o777 & ~mask


def test_a_spec_with_errors_gets_every_error_validate_lists(tmp_path):
    spec = tmp_path / "bad.yaml"
    spec.write_text("name: bad\ninput: 32x32x3\nlayers:\n"
                    "  - {op: conv, name: c1, filters: 16, kernel: 5, stride: 2, padding: 0}\n"
                    "  - {op: conv, name: c2, inputs: nosuch, filters: 8, kernel: 3}\n"
                    "  - {op: fc, units: -3}\n")
    p = run_cli("report", str(spec), "-o", str(tmp_path / "r.html"), "--no-plots")
    v = run_cli("validate", str(spec))
    assert p.returncode == 1 and v.returncode == 1
    # the non-whole division at c1 (line 4) is found by analysing the layers that did build
    lines = [ln for ln in p.stderr.splitlines() if ": error" in ln]
    assert lines == [ln for ln in v.stdout.splitlines() if ": error" in ln]
    assert [ln.split(":")[1] for ln in lines] == ["4", "5", "6"]
    assert not (tmp_path / "r.html").exists()


def test_a_network_too_large_to_draw_is_reported_without_drawings(tmp_path):
    p = run_cli("report", "(C3D4 R)x2600", "-i", "8x8x3", "-o", str(tmp_path / "r.html"),
                "--no-plots")
    assert p.returncode == 0, p.stderr
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert "Not drawn: 5,201 boxes" in page and "<svg" not in page


def test_networks_named_alike_get_distinct_titles(tmp_path):
    copy = tmp_path / "vgg16.yaml"
    copy.write_text((ROOT / "specs" / "vgg16.yaml").read_text())
    out = tmp_path / "r.html"
    p = run_cli("report", "vgg16", str(copy), "-o", str(out), "--no-plots")
    assert p.returncode == 0, p.stderr
    heads = re.findall(r"<h2>([^<]*)</h2>", out.read_text(encoding="utf-8"))
    assert heads[1].startswith("What changed: ") and len(set(heads[2:])) == 2, heads


def test_one_column_of_a_table(tmp_path):
    out = tmp_path / "d.html"
    p = run_cli("report", str(ROOT / "specs" / "vgg_table.md"), "-c", "D", "-o", str(out),
                "--no-plots")
    assert p.returncode == 0 and p.stdout.strip() == f"wrote {out}: D", p.stderr
    # configuration D is VGG16: 138,357,544 parameters (the paper's Table 2, torchvision)
    assert "138,357,544" in out.read_text(encoding="utf-8")
