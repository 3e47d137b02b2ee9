"""``image-cnn``: a small convolutional image encoder trained here, to show the mechanism.

Two 3x3 convolution blocks (ReLU, 2x2 max-pooling) and a linear layer map a ``size`` x ``size``
image to a ``dim`` vector. It is trained on labelled images with a cosine-softmax head (the
vector and each class's weight L2-normalised, logits scaled by ``scale``), so images of one
class end up pointing the same way: exactly what cosine search and clustering need. The head is
dropped after training; the encoder's weights are saved as safetensors.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from embedlab.checks import flag, number, whole
from embedlab.checks import threads as threads_check
from embedlab.embedders.image.classic import MAX_PIXELS, ImageEmbedder
from embedlab.embedders.options import FIT, LOAD, Option, declare
from embedlab.errors import InputError, ModelFormatError
from embedlab.extras import require
from embedlab.media.embedder import torch_threads
from embedlab.media.image import DEFAULT_MAX_PIXELS, pixels
from embedlab.progress import progress_bar

WEIGHTS = "encoder.safetensors"


def _network(torch: Any, channels: int, size: int, dim: int) -> Any:
    nn = torch.nn
    return nn.Sequential(
        nn.Conv2d(channels, 16, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(32 * (size // 4) ** 2, dim),
    )


class ImageCnnEmbedder(ImageEmbedder):
    """A small CNN image encoder; ``fit(images, labels)`` trains it (see module docstring)."""

    method = "image-cnn"
    trainable = True
    options = declare(
        Option("size", 16, FIT, whole(4)),
        Option("dim", 64, FIT, whole(2)),
        Option("grey", False, FIT, flag),
        Option("epochs", 30, FIT, whole(1)),
        Option("lr", 0.003, FIT, number(1e-6)),
        Option("scale", 16.0, FIT, number(1.0)),
        Option("seed", 0, FIT, whole(0)),
        MAX_PIXELS,
        Option("threads", None, LOAD, threads_check),
    )

    def __init__(
        self,
        *,
        size: int = 16,
        dim: int = 64,
        grey: bool = False,
        epochs: int = 30,
        lr: float = 0.003,
        scale: float = 16.0,
        seed: int = 0,
        max_pixels: int = DEFAULT_MAX_PIXELS,
        threads: int | None = None,
    ) -> None:
        super().__init__(
            size=size,
            dim=dim,
            grey=grey,
            epochs=epochs,
            lr=lr,
            scale=scale,
            seed=seed,
            max_pixels=max_pixels,
            threads=threads,
        )
        self._net: Any = None
        self.losses: list[float] = []  # mean training loss per epoch, for the curious

    @property
    def dim(self) -> int:
        return int(self.params["dim"])

    @property
    def is_fitted(self) -> bool:
        return self._net is not None

    def _tensor(self, images: list[Any]) -> Any:
        torch = require("torch", "train")
        size, grey = self.params["size"], self.params["grey"]
        grids = np.stack([pixels(im, size, grey=grey) for im in images])
        grids = grids[:, None] if grey else grids.transpose(0, 3, 1, 2)
        return torch.from_numpy(np.ascontiguousarray(grids))

    def _new_net(self) -> Any:
        torch = require("torch", "train")
        channels = 1 if self.params["grey"] else 3
        return _network(torch, channels, self.params["size"], self.params["dim"])

    def fit(self, X: Iterable[Any], y: Any = None, *, progress: bool = False) -> ImageCnnEmbedder:  # noqa: N803
        """Train on images (paths, bytes, arrays) and their class labels ``y``."""
        with torch_threads(self.params["threads"], "train"):
            return self._fit(X, y, progress)

    def _fit(self, X: Iterable[Any], y: Any, progress: bool) -> ImageCnnEmbedder:  # noqa: N803
        torch = require("torch", "train")
        if y is None:
            raise InputError(
                "image-cnn learns from labelled images, and no labels were given",
                "call fit(images, labels), one label per image",
            )
        images = self.decode_all(X, progress)
        labels = list(y)
        if len(labels) != len(images):
            raise InputError(f"{len(labels)} labels for {len(images)} images", "one per image")
        classes = sorted(set(labels), key=str)
        if len(classes) < 2:
            raise InputError("image-cnn needs at least two classes to learn from", None)
        index = {c: i for i, c in enumerate(classes)}
        target = torch.tensor([index[c] for c in labels])
        data = self._tensor(images)
        torch.manual_seed(self.params["seed"])
        net = self._new_net()
        head = torch.nn.Parameter(torch.randn(len(classes), self.dim) * 0.1)
        optimiser = torch.optim.Adam([*net.parameters(), head], lr=self.params["lr"])
        generator = torch.Generator().manual_seed(self.params["seed"])
        self.losses = []
        with progress_bar(f"training {self.name}", self.params["epochs"], enabled=progress) as go:
            for _ in range(self.params["epochs"]):
                order = torch.randperm(len(data), generator=generator)
                total = 0.0
                for start in range(0, len(data), 64):
                    batch = order[start : start + 64]
                    vectors = torch.nn.functional.normalize(net(data[batch]), dim=1)
                    weights = torch.nn.functional.normalize(head, dim=1)
                    logits = self.params["scale"] * vectors @ weights.T
                    loss = torch.nn.functional.cross_entropy(logits, target[batch])
                    optimiser.zero_grad()
                    loss.backward()
                    optimiser.step()
                    total += float(loss.detach()) * len(batch)
                self.losses.append(total / len(data))
                go(1)
        self._net = net.eval()
        return self

    def _embed_batch(self, items: list[Any]) -> np.ndarray:
        with torch_threads(self.params["threads"], "train") as torch, torch.inference_mode():
            return self._net(self._tensor(items)).numpy().astype(np.float32)

    def _save_state(self, folder: Path) -> dict[str, Any]:
        require("torch", "train")
        import safetensors.torch  # safetensors is a core dependency; its torch part needs torch

        state = {k: v.contiguous() for k, v in self._net.state_dict().items()}
        safetensors.torch.save_file(state, str(folder / WEIGHTS))
        return {"weights": WEIGHTS}

    def _load_state(self, folder: Path, meta: dict[str, Any]) -> None:
        require("torch", "train")
        import safetensors.torch

        path = folder / WEIGHTS
        if not path.is_file():
            raise ModelFormatError(f"{path} is missing", "re-save the model")
        net = self._new_net()
        net.load_state_dict(safetensors.torch.load_file(str(path)))
        self._net = net.eval()
