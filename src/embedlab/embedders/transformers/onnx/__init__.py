"""The ONNX runtime: a transformer exported once (pooling inside), fused, quantised, cached, run."""
