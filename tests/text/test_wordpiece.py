"""The remembered-words WordPiece ids equal the Rust tokenizer's own, text for text."""

from __future__ import annotations

from importlib import resources

import pytest

from embedlab.catalogue import minilm_path
from embedlab.embedders.sentence.tokens import tokenizer_from_folder, train_tokenizer
from embedlab.eval.datasets import sts_benchmark, vader_snippets
from embedlab.text.wordpiece import WordPieceIds

# What the ASCII shortcut must not get wrong: each line is a case it handles or hands over.
HARD_TEXTS = [
    "",
    "   ",
    "Don't STOP: U.S.A. costs $3.14 (approx.) -- 50% off!!",
    "tabs\tand\nnew\r\nlines",
    "a\x01b control characters are removed, not spaces",
    "vertical\x0btab and form\x0cfeed",
    "Café crème, naïve résumé",  # accents: stripped by BERT's normaliser
    "東京 is Tokyo",  # CJK characters become words of their own
    "emoji 🎉 and a non-breaking\u00a0space",
    "special tokens [MASK] and [cls] and [UNK] inside text",
    "a" * 150 + " longer than WordPiece's 100 characters a word",
    "supercalifragilisticexpialidocious antidisestablishmentarianism",
    "x" * 40 + "y" * 40,
    "ALL CAPS SHOUTING ABOUT HTTP/2 AND C++",
    "~`!@#^&*_+={}|\\<>?/",
    "word" + "\x7f" + "delete",
]


def real_texts() -> list[str]:
    calibration = resources.files("embedlab.data").joinpath("calibration_texts.txt")
    lines = calibration.read_text("utf-8").splitlines()
    pairs = sts_benchmark("test")[:600]
    snippets = [text for text, _ in vader_snippets("movies")[:600]]
    return lines + [s for a, b, _ in pairs for s in (a, b)] + snippets + HARD_TEXTS


def rust_ids(tokenizer, texts):
    return [e.ids for e in tokenizer.encode_batch_fast(texts, add_special_tokens=False)]


@pytest.fixture(scope="module")
def minilm_tokenizer():
    return tokenizer_from_folder(minilm_path(), max_tokens=512)


def test_minilm_ids_equal_the_tokenizers_own_on_real_and_hard_texts(minilm_tokenizer):
    texts = real_texts()
    fast = WordPieceIds(minilm_tokenizer)
    assert fast.exact_shortcut
    assert fast.ids(texts) == rust_ids(minilm_tokenizer, texts)
    assert fast.ids(texts) == rust_ids(minilm_tokenizer, texts)  # again, from the cache
    assert len(fast._cache) > 1000


def test_truncation_follows_the_tokenizer_and_can_be_switched_off(minilm_tokenizer):
    short = tokenizer_from_folder(minilm_path(), max_tokens=8)
    texts = [t for t in real_texts() if len(t) > 60][:50]
    fast = WordPieceIds(short)
    cut = fast.ids(texts)
    assert cut == rust_ids(short, texts)
    assert max(map(len, cut)) == 8
    assert fast.ids(texts, truncate=False) == rust_ids(minilm_tokenizer, texts)
    assert short.truncation["max_length"] == 8  # the caller's tokenizer is left as it was


def test_a_tokenizer_trained_here_gets_the_shortcut_too():
    texts = real_texts()
    own = train_tokenizer(texts[:400], vocab_size=500, max_tokens=64)
    fast = WordPieceIds(own)
    assert fast.exact_shortcut
    assert fast.ids(texts) == rust_ids(own, texts)


def test_other_tokenizers_are_used_as_they_are():
    from tokenizers import Tokenizer, models, pre_tokenizers

    vocab = {"[UNK]": 0, "hello": 1, "world": 2, "Hello": 3}
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    fast = WordPieceIds(tokenizer)
    assert not fast.exact_shortcut  # case-sensitive, no BERT normaliser: no shortcut
    texts = ["Hello world", "hello World", "HELLO"]
    assert fast.ids(texts) == rust_ids(tokenizer, texts) == [[3, 2], [1, 0], [0]]
