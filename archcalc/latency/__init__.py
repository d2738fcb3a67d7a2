"""Per-layer latency: the roofline prediction on a named device (``devices``, ``model``),
onnxruntime's measurement mapped back to the layers (``profile``), this machine measured
(``measure``) and calibrated (``calibrate``). docs/latency.md describes it; ``model`` and
``devices`` import no onnxruntime.

:func:`device` is how the commands get a device: a built-in one, one of a device file, or
``local-cpu`` (its stored calibration, else measured now).
"""
from __future__ import annotations

from .devices import LOCAL, Device, get


def device(name: str, device_file: str | None = None) -> Device:
    """The device called ``name`` (any case), from the table, ``device_file`` or this machine
    (``local-cpu``: the stored calibration, else a quick measurement through onnxruntime)."""
    from .measure import quick_local
    return get(name, device_file, measure=quick_local)


__all__ = ["device", "Device", "LOCAL"]
