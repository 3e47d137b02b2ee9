"""Which hidden layer a transformer's vectors come from, and ELMo-style layer mixing.

Every layer of a transformer holds a different view of each token: lower layers are closer to the
surface form, upper ones to meaning in context. ELMo (Peters et al., 2018) showed that a learned,
softmax-normalised weighted sum of all layers, scaled by one factor gamma, beats any single layer
on most tasks. ``LayerMix`` is that sum; :func:`fit_layer_mix` learns its weights for a task from
per-layer pooled features, with torch (imported only there).

Layer indices follow transformers' ``hidden_states``: 0 is the embedding layer's output, ``L`` the
last layer, negative numbers count from the end.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from embedlab.errors import InputError


@dataclass
class LayerMix:
    """``gamma * sum_j softmax(weights)_j * h_j`` over all ``len(weights)`` hidden layers.

    ``weights`` are the raw scalar parameters (zeros: every layer weighs the same), so the mixing
    coefficients always sum to one and stay positive whatever the optimiser does to them.
    """

    weights: np.ndarray
    gamma: float = 1.0

    def __post_init__(self) -> None:
        self.weights = np.asarray(self.weights, dtype=np.float64).reshape(-1)
        if len(self.weights) < 1 or not np.all(np.isfinite(self.weights)):
            raise InputError(
                "a layer mix needs one finite weight per layer",
                "pass e.g. LayerMix.equal(model.num_layers + 1)",
            )
        if not np.isfinite(self.gamma):
            raise InputError(f"gamma must be a finite number, got {self.gamma!r}", "use e.g. 1.0")
        self.gamma = float(self.gamma)

    @classmethod
    def equal(cls, n_states: int) -> LayerMix:
        """Every hidden state weighs the same: the plain average of all layers."""
        return cls(np.zeros(n_states))

    @property
    def coefficients(self) -> np.ndarray:
        """The softmax-normalised weights actually applied to each layer (they sum to one)."""
        shifted = np.exp(self.weights - self.weights.max())
        return shifted / shifted.sum()

    def apply(self, states: np.ndarray) -> np.ndarray:
        """Mix ``(n_states, ...)`` stacked layer outputs into one ``(...)`` array."""
        self._check(len(states))
        mixed = np.tensordot(self.coefficients, np.asarray(states, dtype=np.float64), axes=1)
        return (self.gamma * mixed).astype(np.float32)

    def apply_torch(self, states: Sequence[Any]) -> Any:
        """The same mix on a tuple of torch tensors (transformers' ``hidden_states``)."""
        import torch

        self._check(len(states))
        coefficients = torch.tensor(self.coefficients, dtype=states[0].dtype)
        stacked = torch.stack(tuple(states), dim=0)
        return self.gamma * torch.tensordot(coefficients, stacked, dims=1)

    def _check(self, n_states: int) -> None:
        if n_states != len(self.weights):
            raise InputError(
                f"this layer mix has {len(self.weights)} weights but the model has {n_states} "
                "hidden states (layers + the embedding output)",
                "fit or build the mix for this model: LayerMix.equal(model.num_layers + 1)",
            )

    def to_param(self) -> dict[str, Any]:
        """Plain JSON, as stored in a saved model's parameters (``layer=...``)."""
        return {"weights": [float(w) for w in self.weights], "gamma": self.gamma}

    @classmethod
    def from_param(cls, value: dict[str, Any]) -> LayerMix:
        try:
            return cls(np.asarray(value["weights"], dtype=np.float64), float(value.get("gamma", 1)))
        except (KeyError, TypeError, ValueError):
            raise InputError(
                f"a layer mix is written {{'weights': [...], 'gamma': g}}, got {value!r}",
                "pass LayerMix(...).to_param(), or 'mix' for equal weights",
            ) from None


LayerSpec = int | str | dict | LayerMix | None


def resolve_layer(spec: LayerSpec, n_states: int) -> int | LayerMix | None:
    """Turn a user's ``layer=`` into an absolute state index, a LayerMix, or None (the last).

    Accepted: None or ``"last"`` (the model's output), an int (0 is the embedding output,
    negative counts from the end), ``"mix"``/``"mean"`` (equal weights), a LayerMix or its
    ``to_param()`` dict.
    """
    if spec is None or spec == "last":
        return None
    if isinstance(spec, LayerMix):
        spec._check(n_states)
        return spec
    if isinstance(spec, dict):
        mix = LayerMix.from_param(spec)
        mix._check(n_states)
        return mix
    if spec in ("mix", "mean", "all"):
        return LayerMix.equal(n_states)
    if isinstance(spec, bool) or not isinstance(spec, int | np.integer):
        raise InputError(
            f"unknown layer {spec!r}",
            "use an index (0 = embeddings, -1 = last), 'mix' for the average of all layers, "
            "or a LayerMix",
        )
    index = int(spec) + n_states if spec < 0 else int(spec)
    if not 0 <= index < n_states:
        raise InputError(
            f"layer {spec} does not exist: this model has {n_states - 1} layers "
            f"(hidden states 0..{n_states - 1}, 0 being the embedding output)",
            f"pass a layer between {-n_states} and {n_states - 1}",
        )
    return None if index == n_states - 1 else index


def check_layer_spec(spec: LayerSpec) -> None:
    """Reject malformed ``layer=`` values early, before the model (and its depth) is known."""
    if isinstance(spec, dict):
        LayerMix.from_param(spec)
    elif not (
        spec is None
        or isinstance(spec, LayerMix)
        or spec in ("last", "mix", "mean", "all")
        or (isinstance(spec, int | np.integer) and not isinstance(spec, bool))
    ):
        resolve_layer(spec, 1)  # raises the explanatory error


# -- learning the weights for a task --------------------------------------------------------------
@dataclass
class LayerMixFit:
    """A learned mix and what it bought: the task loss with equal weights and after learning."""

    mix: LayerMix
    loss_equal: float
    loss_learned: float
    objective: str
    history: list[float] = field(default_factory=list)


def fit_layer_mix(
    features: np.ndarray,
    *,
    labels: Sequence[Any] | None = None,
    pair_features: np.ndarray | None = None,
    scores: Sequence[float] | None = None,
    epochs: int = 300,
    lr: float = 0.05,
    seed: int = 0,
) -> LayerMixFit:
    """Learn softmax layer weights (and gamma) on per-layer pooled features ``(n, states, dim)``.

    Two small labelled tasks are supported, whichever arguments are given:

    - ``labels``: classification. A logistic-regression head on ``gamma * mix(x)``; the head is
      first fitted with equal layer weights (``loss_equal``), then head and mix together.
    - ``pair_features`` + ``scores``: similarity. The cosine of the two mixed vectors is fitted
      to the scores rescaled to 0..1 (mean squared error); cosine ignores gamma, so it stays 1.

    Pooling is linear for mean, CLS and last-token pooling, so mixing pooled layers equals
    pooling the mixed layers: a mix learned here applies unchanged as ``layer=mix.to_param()``.
    Full-batch Adam on these few parameters takes seconds for thousands of examples.
    """
    import torch

    x = _as_features(features, "features")
    n, n_states, _ = x.shape
    if epochs < 1:
        raise InputError(f"epochs must be at least 1, got {epochs}", "use e.g. 300")
    torch.manual_seed(seed)
    x_t = torch.from_numpy(x)
    weights = torch.zeros(n_states, dtype=torch.float32, requires_grad=True)
    gamma = torch.ones((), dtype=torch.float32, requires_grad=True)

    def mixed(t: torch.Tensor) -> torch.Tensor:
        return gamma * torch.einsum("l,nld->nd", torch.softmax(weights, 0), t)

    if labels is not None:
        objective = "classification"
        classes, y = np.unique(np.asarray(list(labels)), return_inverse=True)
        if len(y) != n or len(classes) < 2:
            raise InputError(
                f"need one label per example and at least two classes (got {len(y)} labels "
                f"for {n} examples, {len(classes)} classes)",
                "pass labels aligned with the texts the features came from",
            )
        y_t = torch.from_numpy(y.astype(np.int64))
        head = torch.nn.Linear(x.shape[2], len(classes))
        # standardise per dimension so one learning rate suits every layer's scale
        scale = x_t.reshape(-1, x.shape[2]).std(0).clamp_min(1e-6)

        def loss_fn() -> torch.Tensor:
            return torch.nn.functional.cross_entropy(head(mixed(x_t) / scale), y_t)

        _adam(loss_fn, list(head.parameters()), epochs, lr)  # equal weights first
        loss_equal = _value(loss_fn)
        history = _adam(loss_fn, [weights, gamma, *head.parameters()], epochs, lr)
    elif pair_features is not None and scores is not None:
        objective = "pair similarity"
        x2_t = torch.from_numpy(_as_features(pair_features, "pair_features"))
        target = np.asarray(list(scores), dtype=np.float32)
        if x2_t.shape != x_t.shape or len(target) != n:
            raise InputError(
                "features, pair_features and scores must describe the same pairs",
                f"got {tuple(x_t.shape)}, {tuple(x2_t.shape)} and {len(target)} scores",
            )
        low, high = float(target.min()), float(target.max())
        target_t = torch.from_numpy((target - low) / ((high - low) or 1.0))

        def loss_fn() -> torch.Tensor:
            cos = torch.nn.functional.cosine_similarity(mixed(x_t), mixed(x2_t), dim=1)
            return torch.mean((cos - target_t) ** 2)

        loss_equal = _value(loss_fn)
        history = _adam(loss_fn, [weights], epochs, lr)
    else:
        raise InputError(
            "fit_layer_mix needs a task",
            "pass labels= (classification) or pair_features= and scores= (similarity)",
        )
    mix = LayerMix(weights.detach().double().numpy(), float(gamma.detach()))
    return LayerMixFit(mix, loss_equal, _value(loss_fn), objective, history)


def _value(loss_fn: Any) -> float:
    import torch

    with torch.no_grad():
        return float(loss_fn())


def _adam(loss_fn: Any, params: list[Any], epochs: int, lr: float) -> list[float]:
    import torch

    optimiser = torch.optim.Adam(params, lr=lr)
    history = []
    for _ in range(epochs):
        optimiser.zero_grad()
        loss = loss_fn()
        loss.backward()
        optimiser.step()
        history.append(float(loss.detach()))
    return history


def _as_features(features: np.ndarray, name: str) -> np.ndarray:
    array = np.asarray(features, dtype=np.float32)
    if array.ndim != 3 or array.shape[0] < 2 or array.shape[1] < 1:
        raise InputError(
            f"{name} must be (examples, layers, dim) with at least two examples, got "
            f"shape {array.shape}",
            "compute them with model.layer_features(texts)",
        )
    return array


def layer_note(layer: int | LayerMix, n_layers: int) -> str:
    """One line for a walkthrough saying which hidden state(s) the contextual vectors are."""
    if isinstance(layer, LayerMix):
        coefficients = " ".join(f"{c:.2f}" for c in layer.coefficients)
        return (
            f"contextual vectors mix all {n_layers + 1} hidden states "
            f"(weights {coefficients}, gamma {layer.gamma:.2f})"
        )
    if layer == 0:
        return "contextual vectors from hidden state 0: the embedding layer, before any context"
    return f"contextual vectors from layer {layer} of {n_layers}"
