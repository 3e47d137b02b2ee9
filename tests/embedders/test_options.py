"""Options declared once per Embedder class: the declaration agrees with every constructor, and
set_params / load / register all go by it (checked first, applied together, refused clearly)."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest

import embedlab
from embedlab.catalogue import static_minilm_path
from embedlab.checks import whole
from embedlab.embedders.base import Embedder, TokenEmbeddings
from embedlab.embedders.hybrid import HybridEmbedder
from embedlab.embedders.methods import METHODS, method_class, methods, register
from embedlab.embedders.options import FIT, LOAD, RELOAD, REQUIRED, Option, declare
from embedlab.embedders.saving import load_json, save_json
from embedlab.errors import InputError

TEXTS = ["the cat sat on the mat", "a dog ran in the park", "stocks fell on the market"]


def _named(function: Callable[..., Any]) -> dict[str, Any]:
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return {
        p.name: p.default if p.default is not inspect.Parameter.empty else REQUIRED
        for p in inspect.signature(function).parameters.values()
        if p.kind in kinds and p.name != "self"
    }


def constructor_options(klass: type) -> dict[str, Any]:
    """Name -> default of what ``klass(...)`` takes.

    A constructor with ``**kwargs`` passes them up: its parent's constructor adds its own names,
    up to one that takes nothing but ``**options`` (Embedder's: it keeps the declared options).
    """
    found: dict[str, Any] = {}
    for owner in klass.__mro__:
        if "__init__" not in vars(owner):
            continue
        init = vars(owner)["__init__"]
        named = _named(init)
        for name, default in named.items():
            found.setdefault(name, default)
        params = inspect.signature(init).parameters.values()
        if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params) or not named:
            break
    return found


@pytest.mark.parametrize("method", methods())
def test_the_declaration_matches_the_constructor(method: str) -> None:
    klass = method_class(method)
    assert klass.method == method
    declared = {o.name: o.default for o in klass.options}
    takes = constructor_options(klass)
    for name in klass.data_arguments:
        takes.pop(name)
    assert sorted(declared) == sorted(takes), f"{method}: declared vs constructor"
    for name, default in declared.items():
        assert default == takes[name] or (default is REQUIRED and takes[name] is REQUIRED), (
            f"{method}: {name} defaults to {default!r} in the declaration, "
            f"{takes[name]!r} in the constructor"
        )
        assert type(default) is type(takes[name]), f"{method}: {name}"
    assert all(o.when in (FIT, LOAD, RELOAD) for o in klass.options)


def _models() -> dict[str, tuple[Callable[[], Embedder], dict[str, Any], str]]:
    """Per method: a model, a change with one good and one bad value, and the refusal."""
    minilm = str(embedlab.catalogue.find("minilm").path())
    fitted_counts = [embedlab.load("count").fit(TEXTS), embedlab.load("onehot").fit(TEXTS)]
    return {
        "onehot": (lambda: embedlab.load("onehot"), {"min_df": 2, "analyzer": "x"}, "analyzer"),
        "count": (lambda: embedlab.load("count"), {"binary": True, "max_df": -1}, "max_df"),
        "tfidf": (lambda: embedlab.load("tfidf"), {"min_df": 2, "norm": "l3"}, "norm"),
        "word-vectors": (
            lambda: method_class("word-vectors")(["a", "b"], np.eye(2, dtype=np.float32)),
            {"pooling": "sif", "sif_a": 0},
            "sif_a must be positive",
        ),
        "word2vec": (
            lambda: embedlab.load("train:word2vec"),
            {"dim": 8, "architecture": "bag"},
            "unknown architecture",
        ),
        "fasttext": (
            lambda: embedlab.load("train:fasttext"),
            {"min_n": 4, "max_n": 3},
            "max_n must be at least 4",
        ),
        "doc2vec": (
            lambda: embedlab.load("train:doc2vec"),
            {"epochs": 3, "negative": 0},
            r"negative sampling \(negative > 0\) or hierarchical softmax",
        ),
        "glove": (
            lambda: embedlab.load("train:glove"),
            {"dim": 8, "x_max": -1.0},
            "must be positive",
        ),
        "deepwalk": (
            lambda: embedlab.load("deepwalk"),
            {"dim": 8, "walk_length": 1},
            "walk_length must be at least 2",
        ),
        "node2vec": (
            lambda: embedlab.load("node2vec"),
            {"p": 2.0, "q": 0},
            "q must be a positive number",
        ),
        "hybrid": (
            lambda: HybridEmbedder(fitted_counts),
            {"weights": [1, 2, 3]},
            "3 weights for 2 hybrid parts",
        ),
        "debiased": (
            lambda: method_class("debiased")(fitted_counts[0], np.ones(fitted_counts[0].dim)),
            {"base": "tfidf"},
            "'base' of the debiased model is fixed when it was fitted",
        ),
        "remote": (
            lambda: method_class("remote")("minilm", "http://127.0.0.1:9/v1"),
            {"timeout": 5.0, "batch_size": 0},
            "batch_size must be an int >= 1",
        ),
        "transformer": (
            lambda: method_class("transformer")(minilm),
            {"truncate_dim": 64, "runtime": "gpu"},
            "unknown runtime",
        ),
        "static": (
            lambda: method_class("static")(str(static_minilm_path())),
            {"model": "/elsewhere"},
            "'model' of the static model is fixed when it was fitted, so set_params()",
        ),
        "e5": (lambda: method_class("e5")(), {"threads": 1, "mode": "search"}, "unknown E5 mode"),
        "onnx-sentence": (
            lambda: method_class("onnx-sentence")("/nowhere/model.onnx"),
            {"normalize": True, "max_length": 1},
            "max_length must be a whole number of at least 2",
        ),
        "voice": (lambda: embedlab.load("voice"), {"max_seconds": 30, "rate": 0.1}, "rate must"),
        "mfcc": (lambda: embedlab.load("mfcc"), {"max_seconds": 30, "n_mfcc": 40}, "'n_mfcc'"),
        "clip": (
            lambda: method_class("clip")("/nowhere/clip"),
            {"threads": 1, "max_pixels": 0},
            "max_pixels must be at least 1",
        ),
        "pixels": (lambda: embedlab.load("pixels"), {"grey": True, "size": 1}, "size must"),
        "hog": (lambda: embedlab.load("hog"), {"max_pixels": 100, "cell": 64}, "'cell' of"),
        "image-cnn": (lambda: embedlab.load("image-cnn"), {"dim": 8, "lr": 0}, "lr must"),
        "dan": (lambda: embedlab.load("dan"), {"hidden": 64, "layers": -1}, "layers must be"),
        "bilstm": (lambda: embedlab.load("bilstm"), {"hidden": 64, "dim": 0}, "dim must be"),
    }


def test_every_method_has_a_bad_value_case() -> None:
    assert sorted(_models()) == methods()


@pytest.mark.parametrize("method", methods())
def test_a_bad_value_leaves_the_model_unchanged(method: str) -> None:
    make, change, message = _models()[method]
    model = make()
    before, params = model.get_params(), dict(model.params)
    with pytest.raises(InputError, match=message):
        model.set_params(**change)
    assert model.get_params() == before and model.params == params  # the good value too


def test_unknown_and_fit_time_options_are_refused(sample_texts: list[str]) -> None:
    tfidf = embedlab.load("tfidf")
    with pytest.raises(InputError, match="tfidf model takes no option 'colour'.*'min_df'"):
        tfidf.set_params(colour="blue")
    tfidf.set_params(min_df=2)  # not fitted yet: every option may change
    tfidf.fit(sample_texts)
    with pytest.raises(
        InputError, match="'min_df' of the tfidf model is fixed when it was fitted, so set_params"
    ):
        tfidf.set_params(min_df=1)
    with pytest.raises(InputError, match="Once fitted it can change none of"):
        tfidf.set_params(colour="blue")
    assert tfidf.set_params(min_df=2).params["min_df"] == 2  # the same value changes nothing


def test_word_models_change_pooling_after_fitting(glove: Embedder) -> None:
    model = method_class("word-vectors").from_vectors(glove.vectors)
    mean = model.embed("the king and the queen")
    model.set_params(pooling="sif", sif_a=0.01)  # LOAD options: the vectors stay
    assert model.params == {"lowercase": True, "pooling": "sif", "sif_a": 0.01}
    assert not np.allclose(model.embed("the king and the queen"), mean)
    model.set_params(pooling="mean")
    assert model.params == {"lowercase": True, "sif_a": 0.01}  # mean is the default: left out
    np.testing.assert_allclose(model.embed("the king and the queen"), mean, rtol=1e-6)


def test_transformer_options_say_what_they_reload(minilm: Embedder) -> None:
    kinds = {o.name: o.when for o in type(minilm).options}
    assert kinds["model"] == FIT and kinds["runtime"] == RELOAD and kinds["layer"] == LOAD
    with pytest.raises(InputError, match="'model' of the transformer model is fixed"):
        minilm.set_params(model="/elsewhere")


# -- a plugin declares its own options --------------------------------------------------------
class CharCounts(Embedder):
    """A plugin: letter counts of a text, over a fitted alphabet, scaled by ``scale``."""

    method: ClassVar[str] = "char-counts"
    trainable: ClassVar[bool] = True
    options = declare(
        Option("lowercase", True),  # the alphabet depends on it: fixed once fitted
        Option("scale", 1.0, LOAD, lambda name, v: float(whole(1)(name, v))),
    )

    def __init__(self, *, lowercase: bool = True, scale: float = 1.0) -> None:
        super().__init__(lowercase=lowercase, scale=scale)
        self.alphabet: list[str] | None = None
        self.changes: list[set[str]] = []

    @property
    def is_fitted(self) -> bool:
        return self.alphabet is not None

    @property
    def dim(self) -> int:
        return len(self.alphabet or [])

    def _norm(self, text: str) -> str:
        return text.lower() if self.params["lowercase"] else text

    def fit(self, X: Any, y: Any = None, *, progress: bool = False) -> CharCounts:  # noqa: N803
        self.alphabet = sorted({c for text in X for c in self._norm(text) if c.isalpha()})
        return self

    def _embed_batch(self, texts: list[str]) -> np.ndarray:
        index = {c: i for i, c in enumerate(self.alphabet or [])}
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for c in self._norm(text):
                if c in index:
                    out[row, index[c]] += self.params["scale"]
        return out

    def embed_tokens(self, text: str) -> TokenEmbeddings:
        raise NotImplementedError

    def _params_changed(self, changed: set[str]) -> None:
        self.changes.append(changed)

    def _save_state(self, folder: Path) -> dict[str, Any]:
        return {"alphabet": save_json(folder, "alphabet", self.alphabet)}

    def _load_state(self, folder: Path, meta: dict[str, Any]) -> None:
        self.alphabet = load_json(folder, meta["alphabet"])


@pytest.fixture
def plugin() -> Any:
    register("char-counts", f"{CharCounts.__module__}:CharCounts")
    yield
    METHODS.pop("char-counts")


def test_a_plugin_declares_its_options_once(plugin: None, tmp_path: Path) -> None:
    model = embedlab.load("char-counts", scale=2)
    assert isinstance(model, CharCounts) and model.params == {"lowercase": True, "scale": 2.0}
    with pytest.raises(InputError, match="char-counts method takes no option 'pooling'"):
        embedlab.load("char-counts", pooling="mean")
    model.fit(["Abc", "cab"])
    model.set_params(scale=2)  # the same value: no change, no hook
    assert model.changes == []
    model.set_params(scale=3)
    assert model.changes == [{"scale"}]
    np.testing.assert_array_equal(model.embed("aab"), [6, 3, 0])
    folder = model.save(tmp_path / "plugin")
    loaded = embedlab.load(folder, scale=1)  # a LOAD option: the alphabet stays
    assert loaded.params == {"lowercase": True, "scale": 1.0}
    np.testing.assert_array_equal(loaded.embed("aab"), [2, 1, 0])
    with pytest.raises(InputError, match="'lowercase' of the char-counts model in .* fixed"):
        embedlab.load(folder, lowercase=False)
    with pytest.raises(InputError, match="scale must be at least 1"):
        embedlab.load(folder, scale=0)
