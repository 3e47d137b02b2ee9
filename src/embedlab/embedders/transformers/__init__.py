"""Contextual transformer embedders: folder config, pooling, batching, windows, layers, the
embedder and its walkthrough, runtime switching, the fast ONNX and OpenVINO runtimes (``onnx/``,
``openvino/``) and ``auto``, which picks the fastest that keeps the vectors on this CPU."""
