"""Models that ship as a finished graph or engine in a PyPI package (ONNX sentence models, E5)."""
