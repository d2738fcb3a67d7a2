import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"
DATA = ROOT / "tests" / "data"      # what tests read beyond the specs: nothing outside the repository


@pytest.fixture
def specs_dir():
    return SPECS


def imported_by(*args: str) -> tuple[list[str], str]:
    """Run ``archcalc ARGS`` in a fresh interpreter (stdout a pipe); return the modules it
    imported (sys.modules at the end) and what it printed."""
    import json
    code = ("import json, sys\nfrom archcalc.cli import main\n"
            f"try:\n    main({list(args)!r})\n"
            "except SystemExit as e:\n    assert e.code in (0, None), e.code\n"
            "print(json.dumps(sorted(sys.modules)), file=sys.stderr)\n")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stderr.strip().splitlines()[-1]), p.stdout


def run_cli(*args, input_text=None, env=None):
    """Run the archcalc command in a subprocess; returns CompletedProcess (text mode)."""
    e = dict(os.environ)
    e.pop("ARCHCALC_DEBUG", None)
    e["COLUMNS"] = "200"
    if env:
        e.update(env)
    return subprocess.run([sys.executable, "-m", "archcalc.cli", *args], capture_output=True,
                          text=True, input=input_text, env=e, cwd=ROOT)


def torch_figures(torch, model, shape=(1, 3, 224, 224)):
    """An independent PyTorch model's figures, in eval mode: (parameters, buffers without
    BatchNorm's num_batches_tracked counters, FLOPs as torch's FlopCounterMode counts them —
    2 per multiply-add of conv and matmul —, the output for a zero input of ``shape``)."""
    from torch.utils.flop_counter import FlopCounterMode
    model.eval()
    params = sum(p.numel() for p in model.parameters())
    buffers = sum(b.numel() for name, b in model.named_buffers()
                  if not name.endswith("num_batches_tracked"))
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        y = model(torch.zeros(*shape))
    return params, buffers, counter.get_total_flops(), y
