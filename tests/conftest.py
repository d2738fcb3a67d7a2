import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"
LECTURES = ROOT.parent / "shared" / "lectures"


@pytest.fixture
def specs_dir():
    return SPECS


def run_cli(*args, input_text=None, env=None):
    """Run the archcalc command in a subprocess; returns CompletedProcess (text mode)."""
    e = dict(os.environ)
    e.pop("ARCHCALC_DEBUG", None)
    e["COLUMNS"] = "200"
    if env:
        e.update(env)
    return subprocess.run([sys.executable, "-m", "archcalc.cli", *args], capture_output=True,
                          text=True, input=input_text, env=e, cwd=ROOT)
