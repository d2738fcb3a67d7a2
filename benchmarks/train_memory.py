"""archcalc's memory model against PyTorch itself (docs/training-memory.md): for shipped specs
built as PyTorch models (torchvision's, layer for layer), the inference peak, the bytes saved
for the backward pass and the peak of one training step, measured on CPU PyTorch by
tests/torch_memory.py (live tensor bytes at dispatch level; saved-tensor hooks), beside
archcalc's figures, with the error of each.

    python benchmarks/train_memory.py [--specs resnet18,vgg16] [--batch 1,32] [--res 224]
        [--amp off,bf16] [--optimizer sgd,adam] [--checkpoint]

Without torch it says so and exits 0. The GPU figure (torch.cuda.max_memory_allocated) is not
measured here (CPU only): see docs/training-memory.md.
"""
from __future__ import annotations

import argparse
import pathlib
import sys
import time
from collections.abc import Callable
from typing import Any

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

# spec → (torchvision constructor, its adds run in place (``out += identity``), the stage of
# the spec that --checkpoint wraps and the torchvision module that runs it)
REFERENCES: dict[str, tuple[str, bool, tuple[str, str] | None]] = {
    "resnet18": ("resnet18", True, ("layer3", "layer3")),
    "resnet34": ("resnet34", True, ("layer3", "layer3")),
    "resnet50": ("resnet50", True, ("layer3", "layer3")),
    "resnet101": ("resnet101", True, ("layer3", "layer3")),
    "resnext50_32x4d": ("resnext50_32x4d", True, ("layer3", "layer3")),
    "vgg16": ("vgg16", False, None),
    "mobilenet_v2": ("mobilenet_v2", False, None),
    "densenet121": ("densenet121", False, None),
    "squeezenet1_1": ("squeezenet1_1", False, None),
    "shufflenet_v2_x1_0": ("shufflenet_v2_x1_0", False, None),
    "efficientnet_b0": ("efficientnet_b0", True, None),
    "mobilenet_v3_large": ("mobilenet_v3_large", True, None),
    "regnet_x_400mf": ("regnet_x_400mf", False, None),
    "vit_b_16": ("vit_b_16", False, None),
    "swin_t": ("swin_t", False, None),
    "convnext_tiny": ("convnext_tiny", True, None),
    "maxvit_t": ("maxvit_t", False, None),
    "inception_v3": ("inception_v3", False, None),
}


def torchvision() -> Any:
    """torchvision, its compiled ops stood in for where they do not load (tests/conftest.py)."""
    import pytest
    from conftest import import_torchvision
    try:
        return import_torchvision()[1]
    except pytest.skip.Exception as exc:
        raise ImportError(str(exc)) from None


def reference(spec: str) -> Any:
    tv = torchvision()
    model = getattr(tv.models, REFERENCES[spec][0])(weights=None)
    return model


def checkpointed(model: Any, path: str) -> Any:
    """``model`` with every block of the Sequential at ``path`` run under
    torch.utils.checkpoint (non-reentrant, as PyTorch recommends)."""
    import torch
    from torch.utils.checkpoint import checkpoint

    class Checkpointed(torch.nn.Module):
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, x: Any) -> Any:
            return checkpoint(self.inner, x, use_reentrant=False)

    stage = getattr(model, path)
    for i in range(len(stage)):
        stage[i] = Checkpointed(stage[i])
    return model


def optimizer_for(name: str, params: Any) -> Any:
    import torch
    if name == "sgd":
        return torch.optim.SGD(params, lr=0.01, foreach=True)
    if name == "momentum":
        return torch.optim.SGD(params, lr=0.01, momentum=0.9, foreach=True)
    if name == "adam":
        return torch.optim.Adam(params, lr=1e-3, foreach=True)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=1e-3, foreach=True)
    if name == "adafactor":
        return torch.optim.Adafactor(params, lr=1e-2, foreach=True)
    raise ValueError(name)


def measure(spec: str, batch: int, res: int, optimizer: str = "adam", amp: str = "off",
            checkpoint: bool = False) -> dict[str, int]:
    """The measured figures of one setting: inference peak, saved bytes, training peak."""
    import torch
    from torch_memory import inference_peak, saved_bytes, training_step
    torch.manual_seed(0)
    model = reference(spec)
    if checkpoint:
        model = checkpointed(model, REFERENCES[spec][2][1])   # type: ignore[index]
    side = 299 if spec == "inception_v3" else res
    x = torch.randn(batch, 3, side, side)
    dtype = {"off": None, "bf16": torch.bfloat16, "fp16": torch.float16}[amp]
    out: dict[str, int] = {}
    if not checkpoint and amp == "off":
        out["inference"] = inference_peak(model, x)
    model.train()
    out["saved"] = saved_bytes(model, x, dtype)[0]
    meter = training_step(model, x, optimizer_for(optimizer, model.parameters()), amp=dtype)
    out["training"] = meter.peak
    return out


def modelled(spec: str, batch: int, res: int, optimizer: str = "adam", amp: str = "off",
             checkpoint: bool = False) -> dict[str, Any]:
    """archcalc's figures of the same setting (the spec's adds in place where the reference's
    are: what a spec's ``inplace: true`` on an add says)."""
    import archcalc
    net = archcalc.load(str(ROOT / "specs" / f"{spec}.yaml"),
                        input=None if spec == "inception_v3" else (res, res, 3))
    if REFERENCES[spec][1]:
        net = inplace_adds(net)
    stage = REFERENCES[spec][2]
    rep = archcalc.analyze(net, batch=batch, optimizer=optimizer, amp=amp,
                           checkpoint=[stage[0]] if checkpoint and stage else None,
                           backend="cpu")
    t = rep.training
    return {"inference": t.inference, "saved": t.saved, "training": t.peak,
            "phase": t.phase, "layer": t.layer}


def inplace_adds(net: Any) -> Any:
    """``net`` with every add marked in place (``out += identity``)."""
    layers = [layer._replace(attrs={**layer.attrs, "inplace": True}) if layer.op == "add"
              else layer for layer in net.layers]
    return net.replace(layers=layers)


def rows(specs: list[str], batches: list[int], res: int, amps: list[str],
         optimizers: list[str], checkpoint: bool,
         report: Callable[[str], None] = print) -> list[dict[str, Any]]:
    table = []
    report(f"{'spec':20s} {'batch':>5s} {'amp':>4s} {'opt':>5s} {'ckpt':>4s}  "
           f"{'figure':9s} {'archcalc':>12s} {'measured':>12s} {'error':>7s}")
    for spec in specs:
        for batch in batches:
            for amp in amps:
                for opt in optimizers:
                    for ck in ([False, True] if checkpoint and REFERENCES[spec][2] else [False]):
                        t0 = time.perf_counter()
                        got = modelled(spec, batch, res, opt, amp, ck)
                        want = measure(spec, batch, res, opt, amp, ck)
                        for fig in ("inference", "saved", "training"):
                            if fig not in want:
                                continue
                            err = (got[fig] - want[fig]) / want[fig] * 100
                            table.append({"spec": spec, "batch": batch, "amp": amp,
                                          "optimizer": opt, "checkpoint": ck, "figure": fig,
                                          "archcalc": got[fig], "measured": want[fig],
                                          "error": err})
                            report(f"{spec:20s} {batch:5d} {amp:>4s} {opt:>5s} "
                                   f"{'yes' if ck else 'no':>4s}  {fig:9s} {got[fig]:12,d} "
                                   f"{want[fig]:12,d} {err:+6.2f}%")
                        report(f"{'':20s} (peak at {got['phase']}, {got['layer']}; "
                               f"{time.perf_counter() - t0:.1f} s)")
    return table


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--specs", default="resnet18,resnet50,vgg16,mobilenet_v2,densenet121")
    ap.add_argument("--batch", default="1,32")
    ap.add_argument("--res", type=int, default=224)
    ap.add_argument("--amp", default="off,bf16")
    ap.add_argument("--optimizer", default="sgd,adam")
    ap.add_argument("--checkpoint", action="store_true",
                    help="also with a stage checkpointed (where the spec has one)")
    args = ap.parse_args()
    try:
        import torch  # noqa: F401
        torchvision()
    except ImportError as exc:
        print(f"skipped: PyTorch or torchvision is not available ({exc})")
        return 0
    table = rows(args.specs.split(","), [int(b) for b in args.batch.split(",")], args.res,
                 args.amp.split(","), args.optimizer.split(","), args.checkpoint)
    worst = max((abs(r["error"]) for r in table), default=0.0)
    print(f"worst error {worst:.2f}% over {len(table)} figures")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
