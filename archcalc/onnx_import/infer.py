"""What the importer asks of the ``onnx`` package: shape inference, for the volumes of nodes
kept as passthrough layers, and the newest opset it knows. ``onnx`` is imported inside these
functions only (importing it takes about a quarter of a second, and a model archcalc reads
fully never needs it).
"""
from __future__ import annotations

import math

from ..ops import Vol
from . import wire


def newest_opset() -> int | None:
    """The newest ONNX opset the installed ``onnx`` knows; None without ``onnx``."""
    try:
        import onnx.defs
    except ImportError:
        return None
    return int(onnx.defs.onnx_opset_version())


def infer_shapes(path: str, image: str, given: Vol | None) -> dict[str, list[int | None]]:
    """ONNX shape inference over the structure of the model at ``path`` (weights left out: each
    large initializer becomes a graph input of its shape): each value's dimensions (None where
    unknown). ``given`` (H, W, C) is the size of the input ``image`` where the model leaves it
    dynamic (``--input``)."""
    import onnx
    from onnx import helper, shape_inference
    model = onnx.load(path, load_external_data=False)
    g = model.graph
    big = [t for t in g.initializer if math.prod(t.dims) > wire.MAX_VALUE_ELEMENTS]
    small = [t for t in g.initializer if math.prod(t.dims) <= wire.MAX_VALUE_ELEMENTS]
    del g.initializer[:]
    g.initializer.extend(small)       # (a TopK's k, a Reshape's target: inference needs them)
    names = {i.name for i in g.input}
    for t in big:
        if t.name not in names:
            g.input.append(helper.make_tensor_value_info(t.name, t.data_type, list(t.dims)))
    if given is not None:             # --input for a model with dynamic height and width
        h, w, c = given
        for i in g.input:
            if i.name == image:
                dims = i.type.tensor_type.shape.dim
                for d, v in zip(dims[1:], (c, h, w)):
                    d.dim_value = v
    inferred = shape_inference.infer_shapes(model)
    out: dict[str, list[int | None]] = {}
    for vi in list(inferred.graph.value_info) + list(inferred.graph.output):
        dims = [d.dim_value if d.HasField("dim_value") else None
                for d in vi.type.tensor_type.shape.dim]
        out[vi.name] = dims
    return out
