"""The catalogue of pretrained models available offline."""
