"""The classic image baselines: ``pixels`` (pixel PCA, fitted) and ``hog`` (colour histogram and
histogram of oriented gradients, no fitting).

They are what a learned image model is compared against: PCA of small pixel grids is the
eigenfaces idea, HOG (Dalal and Triggs, 2005) the hand-made shape descriptor of detectors before
deep learning.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from embedlab.checks import flag, whole
from embedlab.embedders.options import FIT, LOAD, Option, declare
from embedlab.embedders.saving import load_array, save_array
from embedlab.errors import InputError
from embedlab.media.embedder import MediaEmbedder
from embedlab.media.image import DEFAULT_MAX_PIXELS, pixels, read_image
from embedlab.progress import progress_bar

MAX_PIXELS = Option("max_pixels", DEFAULT_MAX_PIXELS, LOAD, whole(1))


class ImageEmbedder(MediaEmbedder):
    """Base of the image embedders: decoding to RGB images with the pixel limit."""

    input_kind = "image"

    def decode(self, item: Any, index: int = 0) -> Any:
        return read_image(
            item, index=index, max_pixels=self.params.get("max_pixels"), model=self.name
        )

    def decode_all(self, items: Iterable[Any], progress: bool = False) -> list[Any]:
        """Decode training images (``fit``), with a progress bar."""
        listed = list(items)
        if not listed:
            raise InputError(f"no images to fit {self.name} on", "pass a list of images")
        out = []
        with progress_bar(f"reading images for {self.name}", len(listed), enabled=progress) as go:
            for i, item in enumerate(listed):
                out.append(self.decode(item, i))
                go(1)
        return out


class PixelEmbedder(ImageEmbedder):
    """Each image squashed to ``size`` x ``size`` pixels, then projected on the first
    ``components`` principal components of the images it was fitted on (``components=None``:
    the raw pixels, no fitting)."""

    method = "pixels"
    trainable = True
    options = declare(
        Option("size", 16, FIT, whole(2)),
        Option("components", 32, FIT, whole(1, optional=True)),
        Option("grey", False, FIT, flag),
        MAX_PIXELS,
    )

    def __init__(
        self,
        *,
        size: int = 16,
        components: int | None = 32,
        grey: bool = False,
        max_pixels: int = DEFAULT_MAX_PIXELS,
    ) -> None:
        super().__init__(size=size, components=components, grey=grey, max_pixels=max_pixels)
        self._mean: np.ndarray | None = None
        self._components: np.ndarray | None = None

    @property
    def raw_dim(self) -> int:
        return self.params["size"] ** 2 * (1 if self.params["grey"] else 3)

    @property
    def dim(self) -> int:
        if self._components is not None:
            return len(self._components)
        return self.params["components"] or self.raw_dim

    @property
    def is_fitted(self) -> bool:
        return self.params["components"] is None or self._components is not None

    def _raw(self, images: list[Any]) -> np.ndarray:
        size, grey = self.params["size"], self.params["grey"]
        return np.stack([pixels(im, size, grey=grey).reshape(-1) for im in images])

    def fit(self, X: Iterable[Any], y: Any = None, *, progress: bool = False) -> PixelEmbedder:  # noqa: N803
        """Fit the principal components on images (paths, bytes, arrays); labels are unused."""
        if self.params["components"] is None:
            return self
        from sklearn.decomposition import PCA

        raw = self._raw(self.decode_all(X, progress))
        keep = min(self.params["components"], len(raw), raw.shape[1])
        pca = PCA(n_components=keep, random_state=0).fit(raw)
        self._mean = pca.mean_.astype(np.float32)
        self._components = pca.components_.astype(np.float32)
        return self

    def _embed_batch(self, items: list[Any]) -> np.ndarray:
        raw = self._raw(items)
        if self._components is None:
            return raw - raw.mean(axis=1, keepdims=True)  # contrast, not brightness, counts
        assert self._mean is not None
        return (raw - self._mean) @ self._components.T

    def _save_state(self, folder: Path) -> dict[str, Any]:
        if self._components is None:
            return {}
        assert self._mean is not None
        return {
            "mean": save_array(folder, "mean", self._mean),
            "components": save_array(folder, "components", self._components),
        }

    def _load_state(self, folder: Path, meta: dict[str, Any]) -> None:
        if "components" in meta:
            self._mean = load_array(folder, meta["mean"]).astype(np.float32)
            self._components = load_array(folder, meta["components"]).astype(np.float32)


def hog(grey: np.ndarray, cell: int, bins: int) -> np.ndarray:
    """Histogram of oriented gradients of a square greyscale image: unsigned orientations in
    ``bins`` bins per ``cell`` x ``cell`` cell, each 2 x 2 block of cells L2-normalised."""
    gy, gx = np.gradient(grey)
    magnitude: np.ndarray = np.hypot(gx, gy)
    angle = np.rad2deg(np.arctan2(gy, gx)) % 180.0
    which: np.ndarray = np.minimum((angle / (180.0 / bins)).astype(int), bins - 1)
    n = grey.shape[0] // cell
    cells = np.zeros((n, n, bins), dtype=np.float32)
    rows, cols = (np.asarray(a) for a in np.indices(grey.shape))
    inside = (rows < n * cell) & (cols < n * cell)
    np.add.at(
        cells,
        (rows[inside] // cell, cols[inside] // cell, which[inside]),
        magnitude[inside],
    )
    blocks = [
        cells[r : r + 2, c : c + 2].reshape(-1) for r in range(n - 1) for c in range(n - 1)
    ] or [cells.reshape(-1)]
    out = np.concatenate([b / np.sqrt((b**2).sum() + 1e-6) for b in blocks])
    return out.astype(np.float32)


class HogEmbedder(ImageEmbedder):
    """Colour histogram (``colour_bins`` per channel, a share of the pixels) beside HOG of the
    image squashed to ``size`` x ``size`` greyscale; nothing to fit."""

    method = "hog"
    options = declare(
        Option("size", 32, FIT, whole(8)),
        Option("cell", 8, FIT, whole(2)),
        Option("bins", 9, FIT, whole(2)),
        Option("colour_bins", 8, FIT, whole(1)),
        MAX_PIXELS,
    )

    def __init__(
        self,
        *,
        size: int = 32,
        cell: int = 8,
        bins: int = 9,
        colour_bins: int = 8,
        max_pixels: int = DEFAULT_MAX_PIXELS,
    ) -> None:
        super().__init__(
            size=size, cell=cell, bins=bins, colour_bins=colour_bins, max_pixels=max_pixels
        )

    def _check_values(self, values: dict[str, Any]) -> None:
        if values["size"] < values["cell"]:
            raise InputError(
                f"size {values['size']} is smaller than one cell of {values['cell']} pixels",
                "make size at least cell",
            )

    @property
    def dim(self) -> int:
        n, bins = self.params["size"] // self.params["cell"], self.params["bins"]
        hog_dim = (n - 1) ** 2 * 4 * bins if n > 1 else bins  # 2 x 2 blocks of cells
        return hog_dim + 3 * self.params["colour_bins"]

    def _embed_batch(self, items: list[Any]) -> np.ndarray:
        size, bins = self.params["size"], self.params["colour_bins"]
        out = np.empty((len(items), self.dim), dtype=np.float32)
        for i, image in enumerate(items):
            rgb = pixels(image, size)
            colour = np.concatenate(
                [np.histogram(rgb[..., c], bins=bins, range=(0, 1))[0] for c in range(3)]
            ) / float(size * size)
            shape = hog(rgb.mean(axis=2), self.params["cell"], self.params["bins"])
            out[i] = np.concatenate([colour, shape])
        return out
