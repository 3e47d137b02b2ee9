"""Contextual transformer embedders: folder config, pooling, batching, layers, the walkthrough,
and the fast runtimes (``onnx/``)."""
