"""Token-level work in bf16 autocast on CPUs with native bf16: close to fp32, fp32 on request.

The decision itself (:func:`token_precision`) is checked on real cpuinfo samples on any machine;
the vectors need a CPU that multiplies bf16 natively (AMX or AVX-512 BF16), else bf16 is
emulated and never chosen, so those tests are skipped there with that reason.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from embedlab import catalogue, cpu
from embedlab.data import sample_texts
from embedlab.embedders.transformers.embedder import TransformerEmbedder
from embedlab.embedders.transformers.precision import (
    ENV_TOKEN_PRECISION,
    MIN_BF16_TOKENS,
    token_precision,
)
from embedlab.errors import InputError

CPUINFO = Path(__file__).parents[2] / "data" / "cpuinfo"
AMX = cpu.parse_cpuinfo((CPUINFO / "xeon_sapphire_rapids_amx.txt").read_text())
AVX2 = cpu.parse_cpuinfo((CPUINFO / "xeon_e5_2680_v3_avx2.txt").read_text())
needs_bf16 = pytest.mark.skipif(
    not cpu.detect().native_bf16,
    reason="this CPU has no native bf16 (AMX or AVX-512 BF16): token work stays fp32 here",
)
# real sentences, long enough together (about 120 tokens) that auto uses bf16
TEXT = " ".join(sample_texts()[:8])


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(-1) / np.linalg.norm(a, axis=-1) / np.linalg.norm(b, axis=-1)


def test_who_gets_bf16(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_TOKEN_PRECISION, raising=False)
    big, small = MIN_BF16_TOKENS, MIN_BF16_TOKENS - 1
    assert token_precision("auto", big, AMX) == "bf16"
    assert token_precision("auto", small, AMX) == "fp32"  # one short sentence: fp32 is faster
    assert token_precision("torch", big, AMX) == "fp32"  # the exact reference stays exact
    assert token_precision("auto", big, AVX2) == "fp32"  # emulated bf16 is never chosen
    monkeypatch.setenv(ENV_TOKEN_PRECISION, "fp32")
    assert token_precision("auto", big, AMX) == "fp32"
    monkeypatch.setenv(ENV_TOKEN_PRECISION, "bf16")
    assert token_precision("torch", small, AMX) == "bf16"
    assert token_precision("torch", big, AVX2) == "fp32"
    monkeypatch.setenv(ENV_TOKEN_PRECISION, "half")
    with pytest.raises(InputError, match="EMBEDLAB_TOKEN_PRECISION"):
        token_precision("auto", big, AMX)


@pytest.fixture(scope="module")
def auto_minilm() -> TransformerEmbedder:
    return TransformerEmbedder(str(catalogue.minilm_path()), runtime="auto")


@needs_bf16
def test_bf16_token_vectors_stay_close_to_fp32(
    auto_minilm: TransformerEmbedder, minilm: TransformerEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ENV_TOKEN_PRECISION, raising=False)
    bf16 = auto_minilm.hidden_states(TEXT)
    features_bf16 = auto_minilm.layer_features(sample_texts()[:16])
    monkeypatch.setenv(ENV_TOKEN_PRECISION, "fp32")
    fp32 = auto_minilm.hidden_states(TEXT)
    features_fp32 = auto_minilm.layer_features(sample_texts()[:16])
    assert bf16.shape == fp32.shape and bf16.shape[1] >= MIN_BF16_TOKENS
    assert not np.array_equal(bf16[1:], fp32[1:])  # really computed in bf16
    token_cos = cosines(bf16, fp32)  # (layers + 1, tokens)
    assert token_cos.min() >= 0.999 and token_cos.mean() >= 0.9999  # measured 0.9999 / 0.99999
    assert cosines(features_bf16, features_fp32).min() >= 0.999
    # the exact reference: runtime="torch" is fp32 whatever the size, bf16 only when asked
    monkeypatch.delenv(ENV_TOKEN_PRECISION)
    np.testing.assert_allclose(minilm.hidden_states(TEXT), fp32, atol=1e-5)
    monkeypatch.setenv(ENV_TOKEN_PRECISION, "bf16")
    np.testing.assert_allclose(minilm.hidden_states(TEXT), bf16, atol=1e-4)
