"""The documentation's examples work: every YAML spec in README.md and docs/ parses and
analyzes, and the README's Python example runs."""
import re

import pytest
from conftest import ROOT

import archcalc

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
YAML_BLOCKS = [(p.name, m.group(1)) for p in DOCS
               for m in re.finditer(r"```yaml\n(.*?)```", p.read_text(), re.S)]


@pytest.mark.parametrize("where,text", YAML_BLOCKS, ids=[w for w, _ in YAML_BLOCKS])
def test_yaml_examples_in_the_docs_analyze(where, text):
    archcalc.analyze(archcalc.parse(text))


def test_readme_python_example_runs(monkeypatch, capsys):
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"## Python API\n\n```python\n(.*?)```", readme, re.S).group(1)
    monkeypatch.chdir(ROOT)
    exec(compile(block, "README.md", "exec"), {})
    out = capsys.readouterr().out
    assert "224\n" in out            # from_torch: a 3×3 conv of 3 → 8 channels, 3·3·3·8 + 8
    # C3D64 R C3D64 R M: 3 → 5 → pool 2×2/2 → 6, jump 2 (by hand)
    assert "(6, 6) (2, 2)" in out and "size=None" in out and "is_global=True" in out
