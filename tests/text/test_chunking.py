"""Chunking for retrieval: token budget, overlap, sentence and paragraph boundaries, exact spans."""

from __future__ import annotations

import pytest

from embedlab.errors import DataFormatError, InputError
from embedlab.text.chunking import chunk_text, word_count
from embedlab.text.documents import extract_text


@pytest.fixture()
def document(sample_texts):
    paragraphs = [" ".join(sample_texts[i : i + 6]) for i in range(0, 36, 6)]
    return "\n\n".join(paragraphs)


def test_chunks_respect_the_budget_and_point_back_into_the_text(document):
    chunks = chunk_text(document, max_tokens=60, overlap=12)
    assert len(chunks) > 4
    for chunk in chunks:
        assert word_count(chunk.text) <= 60
        assert document[chunk.start : chunk.end] == chunk.text
        assert chunk.text[-1] in ".!?"  # never cut mid-sentence: each chunk ends a sentence


def test_overlap_repeats_the_last_sentences_within_a_paragraph(sample_texts):
    text = " ".join(sample_texts[:6])
    chunks = chunk_text(text, max_tokens=40, overlap=15)
    assert len(chunks) >= 2
    for first, second in zip(chunks, chunks[1:], strict=False):
        assert second.start < first.end  # shares text with the chunk before
    no_overlap = chunk_text(text, max_tokens=40, overlap=0)
    assert all(b.start >= a.end for a, b in zip(no_overlap, no_overlap[1:], strict=False))


def test_a_new_paragraph_starts_a_new_chunk_once_half_full(document):
    paragraph_starts = {0} | {i + 2 for i in range(len(document)) if document.startswith("\n\n", i)}
    # Each paragraph (~85 tokens) is over half of 120: every paragraph opens a chunk.
    assert {c.start for c in chunk_text(document, max_tokens=120, overlap=0)} == paragraph_starts
    # Under half of 200: two paragraphs share a chunk, but chunks still start at paragraphs.
    wide = {c.start for c in chunk_text(document, max_tokens=200, overlap=0)}
    assert wide < paragraph_starts and len(wide) == 3


def test_an_overlong_sentence_is_cut_at_word_boundaries():
    sentence = " ".join(f"word{i}" for i in range(100)) + "."
    chunks = chunk_text(sentence, max_tokens=30, overlap=0)
    assert [word_count(c.text) for c in chunks] == [30, 30, 30, 11]  # the final "." is a token
    assert " ".join(c.text for c in chunks) == sentence


def test_bad_settings_are_clear_errors():
    with pytest.raises(InputError, match="overlap"):
        chunk_text("Some text.", max_tokens=20, overlap=15)


def test_documents_of_every_type(tmp_path):
    (tmp_path / "a.html").write_text(
        "<html><head><style>p{}</style><script>var x=1</script></head>"
        "<body><h1>Title</h1><p>First   paragraph.</p><p>Second one.</p></body></html>"
    )
    assert extract_text(tmp_path / "a.html") == "Title\n\nFirst paragraph.\n\nSecond one."
    (tmp_path / "b.jsonl").write_text('{"text": "one"}\n{"text": "two"}\n')
    assert extract_text(tmp_path / "b.jsonl") == "one\n\ntwo"
    (tmp_path / "c.md").write_text("# Heading\n\nBody text.")
    assert extract_text(tmp_path / "c.md").startswith("# Heading")
    (tmp_path / "bad.pdf").write_bytes(b"not a pdf at all")
    with pytest.raises(DataFormatError, match="not a readable PDF"):
        extract_text(tmp_path / "bad.pdf")


def test_a_real_pdf_is_read(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = plt.figure()
    fig.text(0.1, 0.5, "The rover drilled into Martian rock.")
    fig.savefig(tmp_path / "doc.pdf")
    plt.close(fig)
    assert "rover drilled into Martian rock" in extract_text(tmp_path / "doc.pdf")
