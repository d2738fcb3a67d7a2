"""Layer names from ONNX node names and from the module paths PyTorch's exporters record."""
from __future__ import annotations

import re


def short_name(name: str, op_type: str) -> str:
    """A layer name from an ONNX node name. PyTorch's exporter writes the module path
    (``/layer1/layer1.0/conv1/Conv``); that becomes the module name (``layer1.0.conv1``): the op
    type at the end goes, and a path part that the next one repeats as its prefix
    (``layer1`` before ``layer1.0``). Other names (archcalc's own exports name each node after
    its layer) are kept as they are."""
    if not name.startswith("/"):
        return name
    parts = [p for p in name.split("/") if p]
    if len(parts) > 1 and re.fullmatch(re.escape(op_type) + r"(_\d+)?", parts[-1]):
        parts = parts[:-1]
    keep = [p for i, p in enumerate(parts)
            if not (i + 1 < len(parts) and parts[i + 1].startswith(p + "."))]
    return ".".join(keep) or name


def scope_modules(namespace: str) -> list[str]:
    """The module paths in a node's ``namespace`` metadata (PyTorch's dynamo exporter:
    ``: Net/layer1: Sequential/layer1.0: Basic/layer1.0.relu: ReLU/relu_1: aten.relu.default``
    → ["", "layer1", "layer1.0", "layer1.0.relu"]; the last part is the node's own)."""
    return [p.partition(": ")[0].strip() for p in namespace.split("/")][:-1]


def torch_scope_name(namespace: str, parents: set[str] | None = None) -> str | None:
    """A layer name from a node's ``namespace`` metadata: the innermost module's path where that
    module has no modules of its own (a leaf: ``layer1.0.relu``; ``parents`` are the paths that
    contain others, from every node of the model), else that path and the node's own name
    (``layer1.0.add`` for a functional add inside the block ``layer1.0``)."""
    parts = [p.partition(": ") for p in namespace.split("/")]
    if len(parts) < 2:
        return None
    (fx, _, _), (module, _, cls) = parts[-1], parts[-2]
    module, fx = module.strip(": "), fx.strip(": ")
    leaf = module not in parents if parents is not None else \
        cls.startswith("torch.nn.modules.") and ".container." not in cls
    if module and leaf:
        return module
    return f"{module}.{fx}" if module else fx or None
