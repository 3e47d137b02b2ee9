"""Image embedders: ``clip`` (any local CLIP or SigLIP folder: images and texts in one space),
``pixels`` (pixel PCA) and ``hog`` (colour histogram and HOG), the classic baselines, and
``image-cnn`` (a small encoder trained here). All take files, bytes, arrays or PIL images."""
