"""ELMo-style layer mixing: equal weights, resolution of layer specs, and weights learned for a task."""

from __future__ import annotations

import numpy as np
import pytest

from embedlab.embedders.transformers.embedder import TransformerEmbedder
from embedlab.embedders.transformers.layers import LayerMix, fit_layer_mix, resolve_layer
from embedlab.errors import InputError


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_equal_mix_is_the_mean_of_layers() -> None:
    states = np.random.default_rng(0).normal(size=(5, 3, 4)).astype(np.float32)
    mix = LayerMix.equal(5)
    np.testing.assert_allclose(mix.coefficients, 0.2)
    np.testing.assert_allclose(mix.apply(states), states.mean(axis=0), atol=1e-6)
    weighted = LayerMix(np.log([1, 1, 1, 1, 6]), gamma=2.0)  # softmax: 0.1 ... 0.6
    np.testing.assert_allclose(weighted.coefficients, [0.1, 0.1, 0.1, 0.1, 0.6])
    expected = 2.0 * (0.1 * states[:4].sum(0) + 0.6 * states[4])
    np.testing.assert_allclose(weighted.apply(states), expected, atol=1e-5)
    import torch

    as_torch = weighted.apply_torch(tuple(torch.from_numpy(s) for s in states))
    np.testing.assert_allclose(as_torch.numpy(), expected, atol=1e-5)
    assert LayerMix.from_param(weighted.to_param()).coefficients == pytest.approx(
        weighted.coefficients
    )
    with pytest.raises(InputError, match="has 5 weights but the model has 7"):
        weighted.apply(np.zeros((7, 2)))


def test_layer_specs() -> None:
    assert resolve_layer(None, 7) is None and resolve_layer(-1, 7) is None
    assert resolve_layer(6, 7) is None  # the last layer is the model's output
    assert resolve_layer(0, 7) == 0 and resolve_layer(-2, 7) == 5
    assert isinstance(resolve_layer("mix", 7), LayerMix)
    assert isinstance(resolve_layer({"weights": [0.0] * 7}, 7), LayerMix)
    with pytest.raises(InputError, match="between -7 and 6"):
        resolve_layer(-8, 7)
    with pytest.raises(InputError, match="unknown layer"):
        resolve_layer(True, 7)
    with pytest.raises(InputError, match="weights"):
        resolve_layer({"gamma": 1}, 7)


def test_learned_weights_improve_a_real_similarity_task(minilm: TransformerEmbedder) -> None:
    from embedlab.eval.datasets import sts_benchmark

    pairs = sts_benchmark("train")[:100]
    left = minilm.layer_features([a for a, _, _ in pairs])
    right = minilm.layer_features([b for _, b, _ in pairs])
    fit = fit_layer_mix(left, pair_features=right, scores=[s for _, _, s in pairs], epochs=150)
    assert fit.objective == "pair similarity"
    assert fit.loss_learned < fit.loss_equal * 0.9  # learning the weights helps
    assert fit.mix.coefficients.std() > 0.01  # and they moved away from equal
    assert fit.mix.coefficients.sum() == pytest.approx(1.0)
    assert fit.history[-1] <= fit.history[0]

    # the mix applies unchanged as the model's layer setting (pooling is linear)
    mixed = TransformerEmbedder(minilm.params["model"], layer=fit.mix, normalize=False)
    expected = fit.mix.apply(np.moveaxis(left[:3], 1, 0))
    np.testing.assert_allclose(mixed.embed([a for a, _, _ in pairs[:3]]), expected, atol=1e-4)
    assert mixed.params["layer"] == fit.mix.to_param()  # JSON, saved with the model


def test_learned_weights_for_classification() -> None:
    # a toy task where only hidden state 2 carries the label: the mix must find it
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, size=200)
    features = rng.normal(size=(200, 4, 8)).astype(np.float32)
    features[:, 2, 0] += 3.0 * (2 * labels - 1)
    fit = fit_layer_mix(features, labels=labels, epochs=200)
    assert fit.loss_learned < fit.loss_equal
    assert int(np.argmax(fit.mix.coefficients)) == 2
    with pytest.raises(InputError, match="needs a task"):
        fit_layer_mix(features)
    with pytest.raises(InputError, match="one label per example"):
        fit_layer_mix(features, labels=labels[:10])
