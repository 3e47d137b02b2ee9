"""The ONNX runtime: a transformer exported once (pooling inside), fused, quantised, cached, run.

``export`` traces the graph, ``fuse`` merges it into onnxruntime's operators, ``quantize`` makes
it int8, ``cache`` keeps each result once, ``runner`` runs it; measurements behind each choice
are in bench/results/onnx_runtime.md.
"""
