"""Markdown is for a pull request: its tables give exact numbers with thousands separators (the
terminal's tables may round them to 3.54M; CSV and JSON give them bare). Worked by hand."""
from conftest import run_cli

# one 3×3 convolution, 64 filters, on 32×32×3 at fp32: MACs 32·32·64·3·9 = 1,769,472, FLOPs
# twice that; bytes moved (docs/latency.md): weights (3·3·3·64 + 64)·4 = 7,168, input
# 32·32·3·4 = 12,288, output 32·32·64·4 = 262,144: 281,600 B = 275.00 KiB
FLOPS, BYTES = 2 * 32 * 32 * 64 * 3 * 9, (3 * 3 * 3 * 64 + 64) * 4 + 32 * 32 * 3 * 4 + \
    32 * 32 * 64 * 4


def test_estimate_markdown_is_exact_with_separators():
    assert (FLOPS, BYTES) == (3_538_944, 281_600)
    p = run_cli("estimate", "C3D64", "-i", "32x32x3", "--device", "t4", "-F", "markdown")
    assert p.returncode == 0, p.stderr
    row = next(line for line in p.stdout.splitlines() if line.startswith("| conv1"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[3:5] == ["3,538,944", "275.00 KiB (281,600 B)"], cells
    # the table on a terminal or a pipe keeps its short forms
    assert "3.54M" in run_cli("estimate", "C3D64", "-i", "32x32x3", "--device", "t4").stdout
