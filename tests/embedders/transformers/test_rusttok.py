"""``prepare`` tokenises on the Rust tokenizer directly (the server's hot path): the ids must be
exactly those of the Hugging Face call, at the model's limit and at a smaller one."""

from __future__ import annotations

import pytest

from embedlab.data import sample_texts
from embedlab.embedders.transformers.embedder import TransformerEmbedder
from embedlab.errors import InputTooLongError

TEXTS = [*sample_texts()[:20], "Ünïcödé naïve café, [CLS] e-mail@example.com", "word " * 400]


@pytest.mark.parametrize("limit", [None, 12])
def test_prepare_gives_the_hugging_face_ids(minilm: TransformerEmbedder, limit: int | None) -> None:
    encoded = minilm.prepare(TEXTS, max_tokens=limit)
    cut = limit or minilm.max_length
    reference = minilm.tokenizer(TEXTS, truncation=True, max_length=cut)
    assert sorted(encoded.features) == ["attention_mask", "input_ids", "token_type_ids"]
    for name, rows in encoded.features.items():
        assert rows == list(reference[name]), name
    assert encoded.lengths == [len(ids) for ids in reference["input_ids"]]
    assert max(encoded.lengths) == cut  # the long text was cut at the limit
    assert minilm._loaded().rust.encode(TEXTS[:1], cut) is not None  # direct, not the fallback
    with pytest.raises(InputTooLongError):  # and refused when cutting is not allowed
        minilm.prepare(TEXTS, max_tokens=limit, truncate=False)
