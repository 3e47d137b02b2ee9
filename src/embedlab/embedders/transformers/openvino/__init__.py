"""The OpenVINO runtimes: a plain (unfused) ONNX export of the model, compiled by OpenVINO.

Why: on AMX CPUs OpenVINO's bf16 kernels ran MiniLM 4.4x faster than sentence-transformers at
cosine 0.99999 to fp32 (issue 15); the export itself comes from
:mod:`embedlab.embedders.transformers.onnx` (unfused: OpenVINO reads standard ONNX operators,
not onnxruntime's fused ones).
"""
