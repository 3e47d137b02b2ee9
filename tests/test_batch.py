"""embed_file: streamed, chunked, atomic output, and resume after an interruption."""

from __future__ import annotations

import json

import numpy as np
import pyarrow.parquet as pq
import pytest

import embedlab
from embedlab.batch import ChunkWriter, EmbeddingInterrupted, embed_file, run_fingerprint
from embedlab.errors import DataFormatError, InputError, OutputError
from embedlab.output import EmbeddingRun, read_vectors


@pytest.fixture()
def corpus(tmp_path, sample_texts):
    path = tmp_path / "corpus.txt"
    lines = [
        f"{a} {b}" for a in sample_texts[:20] for b in sample_texts[20:30]
    ]  # 200 real-text lines
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path, lines


@pytest.fixture()
def fitted_tfidf(tmp_path, corpus):
    model = embedlab.load("tfidf", max_features=300).fit(corpus[1])
    return model.save(tmp_path / "tfidf-model")


def test_npy_and_parquet_outputs_equal_embed(tmp_path, corpus, fitted_tfidf):
    path, lines = corpus
    expected = embedlab.load(fitted_tfidf).embed(lines)
    npy = embed_file(path, tmp_path / "out.npy", fitted_tfidf, chunk_rows=64)
    dim = expected.shape[1]
    assert npy.rows == len(lines) and npy.dim == dim
    np.testing.assert_array_equal(np.load(tmp_path / "out.npy"), expected)
    embed_file(path, tmp_path / "out.parquet", fitted_tfidf, chunk_rows=64)
    table = pq.read_table(tmp_path / "out.parquet")
    assert table.column_names == ["id", "text", "vector"]
    assert table.column("id").to_pylist() == list(range(len(lines)))
    assert table.column("text").to_pylist() == lines
    np.testing.assert_array_equal(read_vectors(tmp_path / "out.parquet"), expected)
    assert not list(tmp_path.glob(".*.partial"))  # nothing left behind


def test_unfitted_method_is_fitted_on_the_input_first(tmp_path, corpus):
    path, lines = corpus
    result = embed_file(path, tmp_path / "out.npy", "tfidf", save_model=tmp_path / "fitted")
    assert result.fitted
    reference = embedlab.load("tfidf").fit(lines)
    np.testing.assert_allclose(np.load(tmp_path / "out.npy"), reference.embed(lines), atol=1e-6)
    np.testing.assert_array_equal(
        embedlab.load(tmp_path / "fitted").embed(lines[:3]), reference.embed(lines[:3])
    )


def test_resume_continues_after_the_last_written_chunk(tmp_path, corpus, fitted_tfidf):
    path, lines = corpus
    out = tmp_path / "out.parquet"
    full = embed_file(path, tmp_path / "full.parquet", fitted_tfidf, chunk_rows=50)
    # An earlier run of the same command wrote two chunks, then died before finishing.
    model = embedlab.load(fitted_tfidf)
    fingerprint = run_fingerprint(path, fitted_tfidf)
    crashed = EmbeddingRun(out, fingerprint)
    crashed.write(list(range(100)), lines[:100], model.embed(lines[:100]))
    assert not out.exists()  # no half-written output where the user looks
    resumed = embed_file(path, out, fitted_tfidf, chunk_rows=50)
    assert resumed.resumed_from == 100 and resumed.rows == len(lines)
    assert pq.read_table(out).equals(pq.read_table(tmp_path / "full.parquet"))
    assert full.resumed_from == 0


def test_a_partial_run_of_another_input_is_not_mixed_in(tmp_path, corpus, fitted_tfidf):
    path, lines = corpus
    out = tmp_path / "out.npy"
    EmbeddingRun(out, {"input": "something else"}).write([0], ["x"], np.zeros((1, 300), np.float32))
    with pytest.raises(OutputError, match="different input"):
        embed_file(path, out, fitted_tfidf)
    result = embed_file(path, out, fitted_tfidf, restart=True)
    assert result.resumed_from == 0 and np.load(out).shape == (len(lines), result.dim)


def test_bad_input_leaves_no_output_and_keeps_an_existing_one(tmp_path, fitted_tfidf):
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"good line\n" * 10 + b"\xff\xfe broken\n")
    out = tmp_path / "out.npy"
    out.write_bytes(b"previous result")
    with pytest.raises(DataFormatError, match="not UTF-8"):
        embed_file(bad, out, fitted_tfidf, chunk_rows=4)
    assert out.read_bytes() == b"previous result"
    assert not list(tmp_path.glob(".*.partial"))


def test_state_file_records_progress(tmp_path):
    run = EmbeddingRun(tmp_path / "v.npy", {"k": 1})
    run.write([0, 1], ["a", "b"], np.ones((2, 3), np.float32))
    state = json.loads((run.partial / "state.json").read_text())
    assert state["rows"] == 2 and state["dim"] == 3
    assert EmbeddingRun(tmp_path / "v.npy", {"k": 1}).rows_done == 2
    np.testing.assert_array_equal(
        np.load(EmbeddingRun(tmp_path / "v.npy", {"k": 1}).finish()), np.ones((2, 3))
    )


def test_background_writes_land_in_order_and_their_errors_surface(tmp_path):
    run = EmbeddingRun(tmp_path / "v.parquet", {"k": 2})
    chunks = [np.full((3, 4), k, np.float32) for k in range(5)]
    with ChunkWriter(run) as writer:
        for k, chunk in enumerate(chunks):
            writer.write([3 * k, 3 * k + 1, 3 * k + 2], ["t"] * 3, chunk)
    assert run.rows_done == 15  # the last chunk was written before the block ended
    table = pq.read_table(run.finish())
    assert table.column("id").to_pylist() == list(range(15))
    np.testing.assert_array_equal(read_vectors(tmp_path / "v.parquet"), np.concatenate(chunks))
    # a chunk the run refuses (another dimension) fails the block, after the good ones landed
    run = EmbeddingRun(tmp_path / "w.npy", {"k": 3})
    with pytest.raises(OutputError, match="dimension 5"), ChunkWriter(run) as writer:
        writer.write([0], ["a"], np.ones((1, 4), np.float32))
        writer.write([1], ["b"], np.ones((1, 5), np.float32))
    assert run.rows_done == 1


def test_inputs_and_outputs_are_checked_before_any_work(tmp_path, corpus, fitted_tfidf):
    source, _ = corpus
    with pytest.raises(InputError, match="no file at"):
        embed_file(tmp_path / "missing.txt", tmp_path / "out.npy", fitted_tfidf)
    (tmp_path / "out.npy").mkdir()
    with pytest.raises(OutputError, match="is a folder"):
        embed_file(source, tmp_path / "out.npy", fitted_tfidf)
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "keep.txt").write_text("mine")
    with pytest.raises(OutputError, match="did not write"):
        embed_file(source, tmp_path / "v.npy", "tfidf", save_model=foreign)
    assert [p.name for p in foreign.iterdir()] == ["keep.txt"]
    assert not list(tmp_path.glob(".*"))  # no .partial, no temporary folder


def test_a_corrupt_parquet_input_leaves_no_partial(tmp_path, fitted_tfidf):
    source = tmp_path / "broken.parquet"
    source.write_bytes(b"PAR1 not parquet at all PAR1")
    with pytest.raises(DataFormatError, match="not a readable Parquet file"):
        embed_file(source, tmp_path / "out.npy", fitted_tfidf)
    assert not list(tmp_path.glob(".*"))


def test_ctrl_c_reports_how_far_the_run_got_and_the_run_resumes(tmp_path, corpus, fitted_tfidf):
    source, lines = corpus
    model = embedlab.load(fitted_tfidf)
    plain = type(model)

    class CtrlCOnThirdChunk(plain):  # the same TF-IDF; the user presses Ctrl-C mid-run
        chunks = 0

        def _embed_batch(self, texts):
            type(self).chunks += 1
            if type(self).chunks == 3:
                raise KeyboardInterrupt
            return super()._embed_batch(texts)

    model.__class__ = CtrlCOnThirdChunk
    out = tmp_path / "out.npy"
    with pytest.raises(EmbeddingInterrupted) as stop:
        embed_file(source, out, model, chunk_rows=50, batch_size=50)
    assert isinstance(stop.value, KeyboardInterrupt)
    assert (stop.value.rows_done, stop.value.total) == (100, 200)
    assert stop.value.partial.is_dir() and not out.exists()
    model.__class__ = plain
    result = embed_file(source, out, model, chunk_rows=50, batch_size=50)
    assert result.resumed_from == 100
    np.testing.assert_allclose(np.load(out), model.embed(lines), atol=1e-6)
