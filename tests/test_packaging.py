"""What an installed archcalc is: a wheel built from the repository holds one top-level package,
``archcalc`` (with ``archcalc.exporters`` and the shipped specs inside it), and works outside
the repository."""
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile

import pytest
from conftest import ROOT

SOURCES = ("pyproject.toml", "README.md", "archcalc", "exporters", "specs")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    """A wheel built from a copy of the repository's sources (the checkout stays untouched)."""
    pytest.importorskip("wheel", reason="building a wheel without isolation needs 'wheel' "
                                        "(in the test extra)")
    src = tmp_path_factory.mktemp("src")
    for name in SOURCES:
        s = ROOT / name
        if s.is_dir():
            shutil.copytree(s, src / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(s, src / name)
    out = tmp_path_factory.mktemp("wheel")
    p = subprocess.run([sys.executable, "-m", "pip", "wheel", str(src), "--no-deps",
                        "--no-build-isolation", "-q", "-w", str(out)],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    (path,) = out.glob("archcalc-*.whl")
    return path


def test_the_wheel_installs_only_archcalc(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names}
    assert tops == {"archcalc", f"{wheel.name.split('-')[0]}-{wheel.name.split('-')[1]}.dist-info"}
    assert "archcalc/exporters/yaml.py" in names and "archcalc/exporters/onnx.py" in names
    # every module of the checkout is in the wheel (a package left out of pyproject's list
    # would only show when archcalc is installed from the wheel)
    modules = {f"archcalc/{p.relative_to(ROOT / 'archcalc').as_posix()}"
               for p in (ROOT / "archcalc").rglob("*.py")}
    modules |= {f"archcalc/exporters/{p.name}" for p in (ROOT / "exporters").glob("*.py")}
    assert modules <= set(names), sorted(modules - set(names))
    shipped = {f.name for f in (ROOT / "specs").iterdir()}
    assert {n.split("/")[-1] for n in names if n.startswith("archcalc/specs/")} == shipped
    top_level = [n for n in names if n.endswith(".dist-info/top_level.txt")]
    for t in top_level:
        assert zipfile.ZipFile(wheel).read(t).decode().split() == ["archcalc"]


def test_the_installed_wheel_runs_a_summary_from_an_empty_folder(wheel, tmp_path):
    target, empty = tmp_path / "site", tmp_path / "empty"
    empty.mkdir()
    p = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target",
                        str(target), str(wheel)], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert not (target / "exporters").exists()
    env = {k: v for k, v in os.environ.items() if k not in ("ARCHCALC_DEBUG", "PYTHONPATH")}
    env["PYTHONPATH"] = str(target)         # the wheel's archcalc; its dependencies from here
    # the checkout's editable install (as CI has it) would supply any module the wheel lacks:
    # its finder is removed, and every archcalc module must come from the wheel
    code = ("import sys; sys.meta_path[:] = [f for f in sys.meta_path if not "
            "type(f).__module__.startswith('__editable__')]\n"
            "import atexit, archcalc, archcalc.exporters.onnx; print(archcalc.__file__)\n"
            "atexit.register(lambda: print('FOREIGN', sorted(m for m, mod in sys.modules.items() "
            "if m.startswith('archcalc') and getattr(mod, '__file__', None) and not "
            f"mod.__file__.startswith({str(target)!r})), file=sys.stderr))\n"
            "from archcalc.cli import main; main(sys.argv[1:])")

    def run(*args):
        return subprocess.run([sys.executable, "-c", code, *args], capture_output=True,
                              text=True, cwd=empty, env=env)

    s = run("summary", "vgg16", "-F", "json")
    assert s.returncode == 0, s.stderr
    where, doc = s.stdout.split("\n", 1)
    assert where.startswith(str(target))                  # not the checkout's archcalc
    assert "FOREIGN []" in s.stderr
    assert json.loads(doc)["totals"]["params"] == 138_357_544      # torchvision's VGG16
    est = run("estimate", "vgg16", "--device", "h100-sxm", "-F", "json")   # devices.json shipped
    assert est.returncode == 0, est.stderr
    assert json.loads(est.stdout.split("\n", 1)[1])["device"]["peak_tflops"]["fp16"] == 989.4
    listed = run("specs")
    assert listed.returncode == 0 and "mobilenet_v1.yaml" in listed.stdout
    table = run("compare", "vgg_table.md", "-F", "json")
    assert table.returncode == 0
    assert len(json.loads(table.stdout.split("\n", 1)[1])["networks"]) == 6


def test_readme_spec_table_matches_the_shipped_index():
    """The figures live in archcalc/shipped_specs.json (what `archcalc specs` prints); the
    README's table shows the same ones."""
    index = json.loads((ROOT / "archcalc" / "shipped_specs.json").read_text())["specs"]
    readme = (ROOT / "README.md").read_text()
    rows = re.findall(r"^\| (`[^|]+`) \| ([^|]+) \| ([^|]+) \|$", readme, re.M)
    table = {}
    for files, what, checked in rows:
        for f in re.findall(r"`([^`]+)`", files):
            table[f] = (what.strip(), checked.strip())
    expanded = {}
    for f, v in table.items():          # resnet18/34/50/101/152.yaml
        m = re.fullmatch(r"resnet([\d/]+)\.yaml", f)
        for depth in (m.group(1).split("/") if m else []):
            expanded[f"resnet{depth}.yaml"] = v
        if not m:
            expanded[f] = v
    assert {e["file"]: (e["what"], e["checked"]) for e in index} == expanded
