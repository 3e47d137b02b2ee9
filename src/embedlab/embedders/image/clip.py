"""``clip``: any local CLIP or SigLIP folder: an image tower and a text tower in one space.

No image-text model is available offline here, so this takes the user's own folder (what
``save_pretrained`` writes: ``config.json``, the weights, the tokenizer files, and optionally
``preprocessor_config.json``). ``embed`` takes images (the documents of a collection);
``embed_texts`` runs the text tower; ``embed_queries`` sends texts to the text tower and images
(a path to an existing file, bytes, arrays) to the image tower, so a collection of pictures is
searched by a sentence or by an example picture alike. Vectors are L2-normalised: both towers
were trained to compare by cosine.

Images are resized (shortest side), centre-cropped and normalised here with numpy and Pillow,
from the folder's ``preprocessor_config.json`` or the model's defaults, so no image-processor
package (torchvision) is needed.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from embedlab._io import link_or_copy
from embedlab.checks import optional_text
from embedlab.checks import threads as threads_check
from embedlab.embedders.base import check_texts, l2_normalize
from embedlab.embedders.image.classic import MAX_PIXELS, ImageEmbedder
from embedlab.embedders.options import FIT, LOAD, Option, declare
from embedlab.embedders.transformers.config import quiet_transformers
from embedlab.errors import InputError, ModelFormatError
from embedlab.extras import require
from embedlab.media.embedder import torch_threads
from embedlab.media.image import DEFAULT_MAX_PIXELS
from embedlab.media.inputs import is_single

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
PROCESSOR_FILE = "preprocessor_config.json"


def _edge(value: Any, default: tuple[int, int] | int) -> tuple[int, int] | int:
    """``size``/``crop_size`` of a preprocessor config: an int (shortest edge) or (h, w)."""
    if isinstance(value, int):
        return value
    if isinstance(value, dict):
        if "shortest_edge" in value:
            return int(value["shortest_edge"])
        if "height" in value and "width" in value:
            return int(value["height"]), int(value["width"])
    return default


class ClipEmbedder(ImageEmbedder):
    """A local CLIP-style folder (``model``); see the module docstring."""

    method = "clip"
    options = declare(
        Option("model", None, FIT, optional_text),
        MAX_PIXELS,
        Option("threads", None, LOAD, threads_check),
    )

    def __init__(
        self,
        model: str | None = None,
        *,
        max_pixels: int = DEFAULT_MAX_PIXELS,
        threads: int | None = None,
    ) -> None:
        super().__init__(model=model, max_pixels=max_pixels, threads=threads)
        # the folder's name tells two CLIP models apart in a collection's model check
        self.name = f"clip:{Path(model).expanduser().name}" if model else self.method
        self._model: Any = None
        self._tokenizer: Any = None
        self._processing: dict[str, Any] = {}

    # -- loading ---------------------------------------------------------------------------
    @property
    def folder(self) -> Path:
        if not self.params["model"]:
            raise InputError(
                "the clip method needs the folder of a CLIP or SigLIP model",
                "load it with embedlab.load('clip', model='path/to/clip-folder')",
            )
        return Path(self.params["model"]).expanduser()

    def _loaded(self) -> Any:
        if self._model is None:
            self._load()
        return self._model

    def _load(self) -> None:
        transformers = require("transformers", "transformers")
        folder = self.folder
        if not (folder / "config.json").is_file():
            raise ModelFormatError(
                f"no model folder with a config.json at {folder}",
                "pass the folder a CLIP or SigLIP model was saved to (save_pretrained)",
            )
        try:
            with quiet_transformers():
                model = transformers.AutoModel.from_pretrained(str(folder))
        except (OSError, ValueError, KeyError) as exc:
            raise ModelFormatError(f"cannot load the model in {folder} ({exc})", None) from None
        if not (hasattr(model, "get_image_features") and hasattr(model, "get_text_features")):
            raise ModelFormatError(
                f"{folder} holds a {type(model).__name__}, which has no image and text towers",
                "pass a CLIP or SigLIP folder; text-only models load with embedlab.load(folder)",
            )
        try:
            with quiet_transformers():
                tokenizer = transformers.AutoTokenizer.from_pretrained(str(folder))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ModelFormatError(
                f"{folder} has no usable tokenizer for the text tower ({exc})",
                "save the model's tokenizer into the folder (tokenizer.save_pretrained)",
            ) from None
        self._processing = self._read_processing(folder, model.config)
        self._tokenizer = tokenizer
        self._model = model.eval()

    @staticmethod
    def _read_processing(folder: Path, config: Any) -> dict[str, Any]:
        vision = getattr(config, "vision_config", config)
        size = int(getattr(vision, "image_size", 224))
        siglip = "siglip" in str(getattr(config, "model_type", ""))
        given: dict[str, Any] = {}
        if (folder / PROCESSOR_FILE).is_file():
            try:
                given = json.loads((folder / PROCESSOR_FILE).read_text(encoding="utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise ModelFormatError(
                    f"{folder / PROCESSOR_FILE} is not JSON ({exc})", "re-save the model folder"
                ) from None
        default_mean, default_std = ((0.5,) * 3, (0.5,) * 3) if siglip else (CLIP_MEAN, CLIP_STD)
        return {
            "resize": _edge(given.get("size"), (size, size) if siglip else size),
            "crop": _edge(given.get("crop_size"), size)
            if given.get("do_center_crop", not siglip)
            else None,
            "mean": np.asarray(given.get("image_mean", default_mean), np.float32),
            "std": np.asarray(given.get("image_std", default_std), np.float32),
            "pad_to_max": siglip,  # SigLIP's text tower was trained on max-length padding
        }

    @property
    def dim(self) -> int:
        config = self._loaded().config
        return int(getattr(config, "projection_dim", None) or config.text_config.hidden_size)

    @property
    def max_length(self) -> int:
        config = self._loaded().config.text_config
        return int(getattr(config, "max_position_embeddings", 77))

    # -- images ----------------------------------------------------------------------------
    def _pixels(self, image: Any) -> np.ndarray:
        p = self._processing
        resample = require("PIL.Image", "image").Resampling.BICUBIC
        if isinstance(p["resize"], tuple):
            height, width = p["resize"]
        else:
            scale = p["resize"] / min(image.width, image.height)
            width, height = max(1, round(image.width * scale)), max(1, round(image.height * scale))
        image = image.resize((width, height), resample)
        if p["crop"] is not None:
            ch, cw = p["crop"] if isinstance(p["crop"], tuple) else (p["crop"], p["crop"])
            left, top = (image.width - cw) // 2, (image.height - ch) // 2
            image = image.crop((left, top, left + cw, top + ch))
        array = np.asarray(image, dtype=np.float32) / 255.0
        return ((array - p["mean"]) / p["std"]).transpose(2, 0, 1)

    def _embed_batch(self, items: list[Any]) -> np.ndarray:
        model = self._loaded()
        batch = np.stack([self._pixels(image) for image in items])
        with torch_threads(self.params["threads"], "transformers") as torch, torch.inference_mode():
            out = model.get_image_features(pixel_values=torch.from_numpy(batch))
        return l2_normalize(_features(out))

    # -- texts -----------------------------------------------------------------------------
    def embed_texts(
        self, texts: Sequence[str] | str, *, batch_size: int = 32, normalize: bool = True
    ) -> np.ndarray:
        """The text tower: ``(n, dim)`` (a single string: ``(dim,)``); always L2-normalised
        (``normalize`` is accepted for the verbs' common signature)."""
        single = isinstance(texts, str)
        items = check_texts(texts)
        model = self._loaded()
        padding = "max_length" if self._processing["pad_to_max"] else True
        parts = []
        for start in range(0, len(items), batch_size):
            encoded = self._tokenizer(
                items[start : start + batch_size],
                padding=padding,
                truncation=True,
                max_length=self.max_length,
                return_tensors="pt",
            )
            with (
                torch_threads(self.params["threads"], "transformers") as torch,
                torch.inference_mode(),
            ):
                kept = {k: v for k, v in encoded.items() if k in ("input_ids", "attention_mask")}
                parts.append(_features(model.get_text_features(**kept)))
        matrix = l2_normalize(np.concatenate(parts))
        return matrix[0] if single else matrix

    def count_tokens(self, text: str) -> int:
        self._loaded()
        return len(self._tokenizer(text)["input_ids"])

    def embed_queries(self, texts: Any, **options: Any) -> np.ndarray:
        """Texts through the text tower, images (existing files, bytes, arrays) through the
        image tower: a sentence or an example picture searches a collection of images."""
        items = [texts] if is_single(texts) else list(texts)
        if items and all(_is_text(x) for x in items):
            options.pop("progress", None)
            return self.embed_texts(texts, **options)
        return self.embed(texts, **options)

    # -- persistence -----------------------------------------------------------------------
    def _save_state(self, folder: Path) -> dict[str, Any]:
        """The model folder's files, linked (or copied) in, so the saved folder stands alone."""
        self._loaded()
        files = sorted(p.name for p in self.folder.iterdir() if p.is_file())
        target = folder / "model"
        target.mkdir()
        for name in files:
            link_or_copy(self.folder / name, target / name)
        return {"model_folder": "model"}

    def _load_state(self, folder: Path, meta: dict[str, Any]) -> None:
        if meta.get("model_folder") == "model":
            self.params["model"] = str(folder / "model")
        self._model = None
        self._loaded()


def _features(out: Any) -> np.ndarray:
    """transformers 5 returns a model output (``pooler_output``), 4 a tensor."""
    tensor = getattr(out, "pooler_output", out)
    return tensor.float().numpy()


def _is_text(item: Any) -> bool:
    return isinstance(item, str) and not Path(item).expanduser().is_file()
