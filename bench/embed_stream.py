"""Streamed `embedlab embed` with TF-IDF against scikit-learn's in-memory TfidfVectorizer.

Both fit TF-IDF (4,096 features, sublinear tf) on the same file and write dense float32 vectors to
a .npy file. Each run happens in a fresh child process that reports its own peak RSS, so the
figures do not contaminate each other. Sizes of 25k, 100k and 200k lines show whether memory stays
flat as the input grows. Lines are drawn from the packaged GloVe vocabulary with Zipf-distributed
word frequencies (the vocabulary is frequency-ordered), so vocabulary growth looks like real text.

    python bench/embed_stream.py [--sizes 25000 100000 200000]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).parent / "results" / "embed_stream.md"

OURS = """
import json, resource, sys, time
from embedlab.batch import embed_file
t = time.perf_counter()
r = embed_file(sys.argv[1], sys.argv[2], "tfidf", batch_size=1024)
print(json.dumps({"seconds": time.perf_counter() - t, "rows": r.rows, "dim": r.dim,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

PEER = """
import json, resource, sys, time
import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
t = time.perf_counter()
with open(sys.argv[1], encoding="utf-8") as f:
    lines = f.read().splitlines()
m = TfidfVectorizer(max_features=4096, sublinear_tf=True).fit_transform(lines)
np.save(sys.argv[2], m.toarray().astype(np.float32))
print(json.dumps({"seconds": time.perf_counter() - t, "rows": m.shape[0], "dim": m.shape[1],
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def make_corpus(path: Path, lines: int, seed: int = 0) -> None:
    import pyarrow.parquet as pq

    from embedlab.catalogue import glove_files

    words = pq.read_table(glove_files()[1]).column(0).to_pylist()[:50_000]
    words = [w for w in words if w.isalpha()]
    ranks = np.arange(1, len(words) + 1)
    probs = 1.0 / (ranks + 2.7)
    probs /= probs.sum()
    rng = np.random.default_rng(seed)
    with path.open("w", encoding="utf-8") as out:
        for _ in range(lines // 1000):
            lengths = rng.integers(6, 30, size=1000)
            picks = rng.choice(len(words), size=int(lengths.sum()), p=probs)
            start = 0
            for n in lengths:
                out.write(" ".join(words[i] for i in picks[start : start + n]) + "\n")
                start += n


def run(code: str, source: Path, out: Path) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", code, str(source), str(out)], capture_output=True, text=True
    )
    if done.returncode != 0:
        raise SystemExit(done.stderr)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[25_000, 100_000, 200_000])
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            source = Path(tmp) / f"lines-{size}.txt"
            make_corpus(source, size)
            ours = run(OURS, source, Path(tmp) / "ours.npy")
            peer = run(PEER, source, Path(tmp) / "peer.npy")
            same = np.allclose(
                np.load(Path(tmp) / "ours.npy", mmap_mode="r")[:1000],
                np.load(Path(tmp) / "peer.npy", mmap_mode="r")[:1000],
                atol=1e-5,
            )
            rows.append((size, ours, peer, same))
            print(
                f"{size:>8,} lines: embedlab {ours['seconds']:.1f} s {ours['peak_mb']:.0f} MB | "
                f"scikit-learn {peer['seconds']:.1f} s {peer['peak_mb']:.0f} MB | same vectors: {same}",
                flush=True,
            )
    header = (
        "| lines | output | embedlab time | embedlab peak RSS | scikit-learn time | scikit-learn peak RSS "
        "| time ratio | memory ratio | same vectors |\n|---|---|---|---|---|---|---|---|---|\n"
    )
    table = header + "".join(
        f"| {size:,} | {size * ours['dim'] * 4 / 1e9:.2f} GB | {ours['seconds']:.1f} s | {ours['peak_mb']:.0f} MB "
        f"| {peer['seconds']:.1f} s | {peer['peak_mb']:.0f} MB | {ours['seconds'] / peer['seconds']:.2f}x "
        f"| {ours['peak_mb'] / peer['peak_mb']:.2f}x | {same} |\n"
        for size, ours, peer, same in rows
    )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(f"# embed_stream ({time.strftime('%Y-%m-%d')})\n\n{table}")
    print("\n" + table)


if __name__ == "__main__":
    main()
