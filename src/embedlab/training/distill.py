"""``embedlab distill TEACHER``: model2vec's distillation of any transformer into a static model.

Each subword of the teacher's vocabulary goes through the teacher alone; its output vector,
reduced by PCA and weighted by token frequency (SIF), becomes its static row (model2vec's
``distill``). The result is saved as an embedlab static model whose ``model/`` subfolder is a
model2vec folder. For MiniLM with the default settings this is exactly ``static-minilm``, which
``embedlab models prepare`` makes once: that cached folder is reused instead of distilling again.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path

from embedlab import catalogue
from embedlab._hub import hub_offline
from embedlab._io import check_output_folder
from embedlab.embedders.static import StaticEmbedder
from embedlab.embedders.transformers.config import quiet_transformers
from embedlab.errors import InputError
from embedlab.extras import require
from embedlab.paths import cache_home
from embedlab.training.teachers import hf_folder, load_teacher

DEFAULT_PCA_DIMS = 256


def check_pca_dims(pca_dims: int | None) -> None:
    if pca_dims is not None and pca_dims < 2:
        raise InputError(f"pca_dims must be at least 2, got {pca_dims}", "e.g. --pca-dims 256")


def distilled_folder(teacher: str, pca_dims: int | None = DEFAULT_PCA_DIMS) -> Path:
    """A model2vec folder distilled from ``teacher``, made once into the embedlab cache."""
    check_pca_dims(pca_dims)
    model = load_teacher(teacher)
    source = hf_folder(model)
    if model.method != "transformer" or source is None:
        raise InputError(
            f"the teacher {teacher!r} is a {model.method} model; distillation needs the "
            "transformers model folder itself",
            "pass 'minilm', 'mpnet' or a local (fine-tuned) sentence-transformers folder",
        )
    if source.resolve() == catalogue.minilm_path().resolve() and pca_dims == DEFAULT_PCA_DIMS:
        return catalogue.static_minilm_path()  # what `embedlab models prepare` made
    key = hashlib.sha256(f"{source.resolve()}:{pca_dims}".encode()).hexdigest()[:16]
    target = cache_home() / "models" / f"distilled-{key}"
    if (target / "model.safetensors").is_file():
        return target
    hub_offline()
    require("model2vec", "transformers")
    from model2vec.distill import distill as model2vec_distill

    target.parent.mkdir(parents=True, exist_ok=True)
    with quiet_transformers():
        static = model2vec_distill(model_name=str(source), pca_dims=pca_dims)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    static.save_pretrained(str(tmp))
    if target.exists():
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        tmp.rename(target)
    return target


def distill(
    teacher: str,
    out: str | os.PathLike[str],
    *,
    pca_dims: int | None = DEFAULT_PCA_DIMS,
    force: bool = False,
) -> StaticEmbedder:
    """Distil ``teacher`` into a static model saved at ``out``; returns it loaded."""
    check_pca_dims(pca_dims)
    target = check_output_folder(out, force=force)
    folder = distilled_folder(teacher, pca_dims)
    model = StaticEmbedder(str(folder))
    model.save(target, force=force)
    return model
