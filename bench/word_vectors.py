"""word2vec and fastText (gensim) against our GloVe, trained on the same real corpus, plus the
packaged pretrained GloVe 6B 50d, all scored on WordSim353, SimLex-999 and the Google analogies.

The corpus is what `embedlab data corpus gcide wordnet wiki` prepares (the GNU dictionary's
definitions and quotations, WordNet's glosses, and a Wikipedia extract: about 7M tokens), read as
a folder. Each model trains in a fresh child process that reports its own peak RSS, so the
figures do not contaminate each other; the same child then scores the model.

    python bench/word_vectors.py [--dim 100] [--workers 2] [--glove-epochs 10]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results" / "word_vectors.md"
CORPORA = ("gcide", "wordnet", "wiki")

CHILD = """
import json, resource, sys, time
args = json.loads(sys.argv[1])
from embedlab.embedders.methods import method_class
from embedlab.eval.words import WordBenchmarks
started = time.perf_counter()
if args["method"] == "pretrained":
    import embedlab
    model = embedlab.load("glove-50d")
    info = {"tokens": 6_000_000_000, "vocabulary": len(model.vectors)}
    seconds = None
else:
    model = method_class(args["method"])(**args["params"]).fit(args["corpus"])
    seconds = time.perf_counter() - started
    info = model.training
    model.save(args["out"])
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
result = WordBenchmarks().run(model)
print(json.dumps({"seconds": seconds, "peak_mb": peak, "info": info, "scores": result.scores,
                  "details": {k: result.details[k] for k in ("wordsim353", "simlex999")},
                  "analogy": {k: result.details["analogy"][k]
                              for k in ("questions", "answered", "correct")}}))
"""


def corpus_folder(data_dir: Path | None, folder: Path) -> dict[str, dict]:
    """Prepare the corpora (apt-get download on first use) and link them into ``folder``."""
    from embedlab.text.corpora import prepare_corpus

    stats = {}
    for name in CORPORA:
        prepared = prepare_corpus(name, data_dir, progress=True)
        (folder / f"{name}.txt").symlink_to(prepared.path)
        stats[name] = {"lines": prepared.lines, "words": prepared.words}
    return stats


def run_child(method: str, params: dict, corpus: Path, out: Path) -> dict:
    args = {"method": method, "params": params, "corpus": str(corpus), "out": str(out)}
    print(f"-- {method} {params}", file=sys.stderr, flush=True)
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", CHILD, json.dumps(args)], capture_output=True, text=True
    )
    if done.returncode != 0:
        raise SystemExit(done.stderr)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"   done in {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    return result


def table(rows: list[tuple[str, dict]]) -> str:
    header = (
        "| model | train time | corpus words/s | peak RSS | vocabulary | WordSim353 | SimLex-999 "
        "| analogy (all / sem / syn) | analogy answered |\n"
        "|---|---|---|---|---|---|---|---|---|\n"
    )
    lines = []
    for name, r in rows:
        s, info = r["scores"], r["info"]
        seconds = r["seconds"]
        time_cell = f"{seconds:.0f} s" if seconds is not None else "–"
        speed = f"{info['tokens'] / seconds:,.0f}" if seconds else "–"
        lines.append(
            f"| {name} | {time_cell} | {speed} | {r['peak_mb']:,.0f} MB | {info['vocabulary']:,} "
            f"| {s['wordsim353']:.3f} ({s['wordsim353_oov_pairs']:.0f} OOV) "
            f"| {s['simlex999']:.3f} ({s['simlex999_oov_pairs']:.0f} OOV) "
            f"| {s['analogy']:.3f} / {s['analogy_semantic']:.3f} / {s['analogy_syntactic']:.3f} "
            f"| {r['analogy']['answered']:,} of {r['analogy']['questions']:,} |"
        )
    return header + "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dim", type=int, default=100)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=5, help="word2vec and fastText epochs")
    parser.add_argument("--glove-epochs", type=int, default=10)
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--no-write", action="store_true", help="do not update results/")
    args = parser.parse_args()

    load_before = os.getloadavg()[0]
    work = tempfile.TemporaryDirectory(prefix="embedlab-bench-")
    corpus = Path(work.name) / "corpus"
    corpus.mkdir()
    stats = corpus_folder(args.data_dir, corpus)
    common = {"dim": args.dim, "workers": args.workers, "seed": 1, "min_count": 5}
    plan = [
        ("word2vec (gensim, CBOW)", "word2vec", {**common, "epochs": args.epochs}),
        ("fastText (gensim, CBOW)", "fasttext", {**common, "epochs": args.epochs}),
        ("GloVe (embedlab)", "glove", {**common, "epochs": args.glove_epochs}),
    ]
    rows = []
    with work:  # the linked corpus and the trained models go away at the end
        for label, method, params in plan:
            rows.append((label, run_child(method, params, corpus, Path(work.name) / method)))
        pretrained = run_child("pretrained", {}, corpus, corpus)
        rows.append(("GloVe 6B 50d, pretrained (packaged)", pretrained))
    tokens = rows[0][1]["info"]["tokens"]

    load = f"load average {load_before:.1f} at the start, {os.getloadavg()[0]:.1f} at the end"
    text = table(rows)
    print(text)
    if args.no_write:
        return
    words = sum(s["words"] for s in stats.values())
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        "# Word vectors: word2vec, fastText and GloVe on the same corpus\n\n"
        f"`python bench/word_vectors.py` on {time.strftime('%Y-%m-%d')} ({machine}; {load}: "
        "the machine is shared, so times are indicative).\n\n"
        f"Corpus: `embedlab data corpus {' '.join(CORPORA)}`, read as one folder: "
        + ", ".join(f"{n} {s['words']:,} words" for n, s in stats.items())
        + f" ({words:,} whitespace words, {tokens:,} tokens with punctuation, lowercased).\n"
        f"Settings: {args.dim} dims, min_count 5, {args.workers} workers, seed 1; word2vec and "
        f"fastText {args.epochs} epochs (gensim defaults otherwise: window 5, negative 5, "
        f"fastText n-grams 3-6 in 500k buckets); GloVe window 10, x_max 10, "
        f"{args.glove_epochs} epochs, AdaGrad learning rate 0.05.\n\n"
        "Train time covers reading and tokenising the corpus, the vocabulary, GloVe's "
        "co-occurrence counting and training; corpus words/s is tokens / train time. Peak RSS "
        "is the training process's. Scores: Spearman x cosine for the word pairs, accuracy "
        "(3CosAdd, 300k most frequent words as candidates) for the analogies; pairs and "
        "questions with a word outside a model's vocabulary are skipped and counted, as gensim "
        "does.\n\n" + text,
        encoding="utf-8",
    )
    print(f"written to {RESULTS}")


if __name__ == "__main__":
    main()
