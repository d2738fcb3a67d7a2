"""Per-layer latency (issue 13): the roofline prediction on a named device (devices, model),
onnxruntime's measurement mapped back to the layers (profile) and this machine's calibration
(calibrate). docs/latency.md describes it; ``model`` and ``devices`` import no onnxruntime."""
