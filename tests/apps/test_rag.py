"""RAG retrieval end to end: index a folder, ask, re-index incrementally, re-rank, CLI."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from embedlab.apps.rag import as_prompt, ask, index_folder, open_or_create
from embedlab.errors import EmbedlabError

TOPIC_FILES = {
    "programming.md": (0, "# Programming\n\n"),
    "cooking.txt": (6, ""),
    "sport.html": (12, None),
    "space.txt": (18, ""),
    "music.md": (24, "# Music\n\n"),
    "finance.txt": (30, ""),
}


@pytest.fixture()
def docs(tmp_path, sample_texts):
    folder = tmp_path / "docs"
    folder.mkdir()
    for name, (start, header) in TOPIC_FILES.items():
        sentences = sample_texts[start : start + 6]
        if header is None:
            body = "<html><body>" + "".join(f"<p>{s}</p>" for s in sentences) + "</body></html>"
        else:
            body = header + " ".join(sentences[:3]) + "\n\n" + " ".join(sentences[3:])
        (folder / name).write_text(body, encoding="utf-8")
    return folder


def test_the_chunk_holding_the_answer_ranks_first(docs, tmp_path, minilm):
    store = open_or_create(tmp_path / "coll", minilm)
    report = index_folder(docs, store, max_tokens=40, overlap=10)
    assert sorted(report.added) == sorted(TOPIC_FILES) and report.chunks_embedded == store.count()
    passages = ask(store, "How long does fresh pasta take to cook?", k=3)
    assert passages[0].source == "cooking.txt"
    assert "Fresh pasta cooks in about three minutes" in passages[0].text
    assert passages[0].score >= passages[1].score
    goalkeeper = ask(store, "Who stopped the penalty kick?", k=1)[0]
    assert goalkeeper.source == "sport.html" and "goalkeeper" in goalkeeper.text
    text = as_prompt(passages)
    assert text.startswith("[1] cooking.txt (chunk ") and "Fresh pasta" in text


def test_reindexing_embeds_only_what_changed(docs, tmp_path, minilm):
    store = open_or_create(tmp_path / "coll", minilm)
    first = index_folder(docs, store, max_tokens=40, overlap=10)
    again = index_folder(docs, store, max_tokens=40, overlap=10)
    assert again.chunks_embedded == 0 and sorted(again.unchanged) == sorted(TOPIC_FILES)
    (docs / "space.txt").write_text(
        "The probe landed on a comet after a ten-year journey.", encoding="utf-8"
    )
    (docs / "music.md").unlink()
    changed = index_folder(docs, store, max_tokens=40, overlap=10)
    assert changed.updated == ["space.txt"] and changed.removed == ["music.md"]
    assert changed.chunks_embedded == 1 and len(changed.unchanged) == 4
    sources = {r.metadata["source"] for r in store.iter(include=("metadata",))}
    assert "music.md" not in sources
    assert store.count() < first.chunks_embedded
    hit = ask(store, "Did anything land on a comet?", k=1)[0]
    assert hit.source == "space.txt" and "comet" in hit.text


def test_context_and_reranking(docs, tmp_path, minilm):
    import embedlab

    store = open_or_create(tmp_path / "coll", minilm)
    index_folder(docs, store, max_tokens=30, overlap=0)
    plain = ask(store, "interest rates and inflation", k=2)
    middle = next(
        p for p in ask(store, "interest rates and inflation", k=10) if p.before and p.after
    )
    assert middle.before != middle.text != middle.after
    reranker = embedlab.load("static-minilm")
    reranked = ask(store, "interest rates and inflation", k=2, rerank=reranker, candidates=10)
    vectors = reranker.embed(["interest rates and inflation", reranked[0].text], normalize=True)
    assert reranked[0].score == pytest.approx(float(np.dot(vectors[0], vectors[1])), abs=1e-5)
    assert {p.source for p in plain} | {p.source for p in reranked} >= {"finance.txt"}
    with pytest.raises(EmbedlabError, match="empty"):
        ask(store, "  ")


def test_index_and_ask_cli(docs, tmp_path):
    coll = tmp_path / "cli-coll"
    run = lambda *a: subprocess.run(  # noqa: E731
        [sys.executable, "-m", "embedlab.cli.main", *map(str, a)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    indexed = run(
        "index", docs, "--collection", coll, "-m", "minilm", "--max-tokens", "40", "--overlap", "10"
    )
    assert indexed.returncode == 0, indexed.stderr
    assert "6 added" in indexed.stderr
    answer = run("ask", coll, "What did the rover drill into?", "--k", "2", "--json")
    assert answer.returncode == 0, answer.stderr
    passages = json.loads(answer.stdout)
    assert passages[0]["source"] == "space.txt" and "rover" in passages[0]["text"]
    missing = run("index", tmp_path / "nowhere", "--collection", coll)
    assert missing.returncode == 2 and "not a folder" in missing.stderr
