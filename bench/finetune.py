"""Fine-tuning MiniLM on this machine: before and after, with the time each training run took.

Rows (the issue's table): STS-B (CoSENT on the train split, test Spearman); WordNet usage ->
definition retrieval (MNRL on the training synsets, with and without mined hard negatives,
nDCG@10 on 2,000 held-out synsets); the same task from unlabelled text only (domain
adaptation on the training synsets' definitions and examples: TSDAE, continued masked-LM
pretraining, and pseudo-pairs across the two unpaired pools); few-shot sentiment (VADER tweets,
SetFit-style pairs + logistic head against a logistic probe on the frozen model, the same
examples, averaged over seeds). Every run is `embedlab.finetune`, i.e. sentence-transformers'
own trainer and losses; each run is bounded by ``--minutes`` (the time budget feature), and
every model is scored after loading its saved folder with `embedlab.load`.

    python bench/finetune.py                  # reduced: 4 minutes a run, 3 seeds, 8 shots
    python bench/finetune.py --minutes 20 --seeds 5 --shots 8,32 --mine-rows 0   # full
    python bench/finetune.py --rows wn --minutes 20 --wn-lr 5e-5 --symmetric --group-by-length
    python bench/finetune.py --rows wn,mlm    # rows: sts, wn, wn-hard, tsdae, mlm, pseudo, fewshot
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np

import embedlab
from embedlab.apps.classify import TextClassifier
from embedlab.cpu import detect
from embedlab.eval.base import get_task
from embedlab.eval.datasets import sentiment, sts_benchmark
from embedlab.eval.wordnet_usage import WordNetUsage, read_synsets, split_synsets, usage_pairs
from embedlab.training.finetune.scoring import fit_head

RESULTS = Path(__file__).parent / "results" / "finetune.md"
LOADS: list[float] = []


def sample_load(every: float = 30.0) -> None:
    """The machine is shared: the load average beside the numbers says how shared."""
    while True:
        LOADS.append(os.getloadavg()[0])
        time.sleep(every)


BASE = "minilm"


def cpu_line() -> str:
    flags = subprocess.run(
        "grep -o -E 'amx_[a-z0-9]+|avx512_vnni' /proc/cpuinfo | sort -u",
        shell=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    return f"{detect().model_name} ({', '.join(flags) or 'no AMX/VNNI'}), {os.cpu_count()} cores"


def run(data, out: Path, args: argparse.Namespace, **options) -> tuple[dict, float]:
    """One fine-tuning run bounded by the time budget; returns its report and seconds."""
    started = time.perf_counter()
    result = embedlab.finetune(
        BASE,
        data,
        out=out,
        minutes=args.minutes,
        eval_split=0,
        seed=args.seed,
        max_length=64,
        progress=False,
        log=lambda line: print("   ", line),
        **options,
    )
    return result.report, time.perf_counter() - started


def sts_rows(args, work: Path) -> list[list[str]]:
    task = get_task("sts")
    before = task.run(embedlab.load(BASE)).main_score / 100  # the STS task reports x100
    train = [{"sentence1": a, "sentence2": b, "score": s} for a, b, s in sts_benchmark("train")]
    report, seconds = run(train, work / "sts", args, batch_size=16, epochs=args.sts_epochs)
    after = task.run(embedlab.load(work / "sts")).main_score / 100
    label = f"STS-B test Spearman (CoSENT, train split, {args.sts_epochs} epoch(s))"
    return [_row(label, before, after, report, seconds)]


_BEFORE: dict[str, float] = {}


def wordnet_before() -> float:
    """MiniLM zero-shot on the 2,000 held-out synsets (computed once per invocation)."""
    if "wn" not in _BEFORE:
        _BEFORE["wn"] = WordNetUsage().run(embedlab.load(BASE)).main_score
        print(f"  wordnet before: {_BEFORE['wn']:.4f}")
    return _BEFORE["wn"]


def wordnet_pairs(args) -> list[dict[str, str]]:
    train_synsets, _ = split_synsets(read_synsets())
    pairs = [{"anchor": a, "positive": p} for a, p in usage_pairs(train_synsets)]
    random.Random(args.seed).shuffle(pairs)
    return pairs


def wn_options(args) -> dict:
    """The WordNet rows' loss options, and how the row names them."""
    return {
        "batch_size": 32,
        "learning_rate": args.wn_lr,
        "symmetric": args.symmetric,
        "group_by_length": args.group_by_length,
    }


def wn_label(args) -> str:
    return (
        f"lr {args.wn_lr:g}"
        + (", symmetric" if args.symmetric else "")
        + (", length-grouped batches" if args.group_by_length else "")
    )


def wn_rows(args, work: Path) -> list[list[str]]:
    before = wordnet_before()
    report, seconds = run(
        wordnet_pairs(args), work / "wn", args, epochs=args.wn_epochs, **wn_options(args)
    )
    after = WordNetUsage().run(embedlab.load(work / "wn")).main_score
    name = f"WordNet usage->definition nDCG@10 (MNRL, in-batch negatives only, {wn_label(args)})"
    return [_row(name, before, after, report, seconds)]


def wn_hard_rows(args, work: Path) -> list[list[str]]:
    before = wordnet_before()
    pairs = wordnet_pairs(args)
    # mining embeds every pair with the base model; a budget run sees a prefix anyway
    mined = pairs[: args.mine_rows] if args.mine_rows else pairs
    k = args.hard_negatives
    report, seconds = run(
        mined, work / "wn-hard", args, hard_negatives=k, epochs=args.wn_epochs, **wn_options(args)
    )
    after = WordNetUsage().run(embedlab.load(work / "wn-hard")).main_score
    name = (
        f"... MNRL with {k} mined hard negatives ({len(mined):,} pairs mined, "
        f"{args.wn_epochs} epoch(s) within --minutes, {wn_label(args)})"
    )
    return [_row(name, before, after, report, seconds)]


def domain_texts(args) -> list[str]:
    train_synsets, _ = split_synsets(read_synsets())
    texts = list(
        dict.fromkeys(
            t for s in train_synsets for t in (s.definition, *s.examples) if len(t.split()) >= 3
        )
    )
    random.Random(args.seed).shuffle(texts)
    return texts


def domain_pools(args) -> list[dict[str, str]]:
    """The same texts as two unpaired pools (examples: query, definitions: document), shuffled
    together: which example belongs to which definition is not given."""
    train_synsets, _ = split_synsets(read_synsets())
    rows = [{"text": s.definition, "pool": "document"} for s in train_synsets]
    rows += [{"text": e, "pool": "query"} for s in train_synsets for e in s.examples]
    random.Random(args.seed).shuffle(rows)
    return rows


def pseudo_precision(out: Path) -> str:
    """The share of pseudo-pairs that are right (checked against the synsets, never trained
    on): how much of the self-training signal is real."""
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    pairs = report.get("pseudo_pairs") or {}
    if not pairs.get("sample"):
        return ""
    train_synsets, _ = split_synsets(read_synsets())
    truth = {(e, s.definition) for s in train_synsets for e in s.examples}
    right = np.mean([tuple(p) in truth for p in pairs["sample"]])
    return f", {100 * right:.0f}% of a sample of {len(pairs['sample'])} right"


ADAPT_LABELS = {
    "tsdae": "TSDAE on definitions + examples",
    "mlm": "continued MLM pretraining (15% masked) on definitions + examples",
    "pseudo": "pseudo-pairs (base model's mutual nearest neighbours across the pools of "
    "examples and definitions), MNRL",
}


def adaptation_rows(args, work: Path, kinds: tuple[str, ...]) -> list[list[str]]:
    """Unlabelled domain text only: TSDAE, continued masked-LM pretraining, pseudo-pairs."""
    before = wordnet_before()
    rows = []
    for adapt in kinds:
        out = work / f"wn-{adapt}"
        if adapt == "pseudo":
            options = {**wn_options(args), "pseudo_threshold": args.pseudo_threshold}
            report, seconds = run(domain_pools(args), out, args, adapt=adapt, **options)
        else:
            report, seconds = run(domain_texts(args), out, args, batch_size=16, adapt=adapt)
        after = WordNetUsage().run(embedlab.load(out)).main_score
        extra = ""
        if adapt == "pseudo":
            extra = (
                f" ({report['data']['train_rows']:,} pairs at cosine >= {args.pseudo_threshold:g}"
                f"{pseudo_precision(out)})"
            )
        name = f"... no labels: {ADAPT_LABELS[adapt]}{extra}"
        rows.append(_row(name, before, after, report, seconds))
    return rows


def fewshot_rows(args, work: Path) -> list[list[str]]:
    texts, labels = sentiment("tweets")
    order = list(range(len(texts)))
    random.Random(0).shuffle(order)
    test = order[: args.test_size]
    pool = order[args.test_size :]
    test_texts = [texts[i] for i in test]
    test_labels = np.asarray([labels[i] for i in test])
    frozen = embedlab.load(BASE)
    frozen_test = frozen.embed(test_texts, normalize=True)
    rows = []
    for shots in args.shots:
        probe, tuned, seconds = [], [], []
        for seed in range(args.seeds):
            rng = random.Random(seed)
            chosen = []
            for label in sorted(set(labels)):
                chosen += rng.sample([i for i in pool if labels[i] == label], shots)
            few = [{"text": texts[i], "label": labels[i]} for i in chosen]
            head = fit_head(
                frozen.embed([r["text"] for r in few], normalize=True), [r["label"] for r in few]
            )
            probe.append(float(np.mean(head.predict(frozen_test) == test_labels)))
            out = work / f"fewshot-{shots}-{seed}"
            report, took = run(
                few, out, args, batch_size=16, setfit_pairs=args.setfit_pairs,
                learning_rate=args.setfit_lr,
            )  # fmt: skip
            classifier = TextClassifier.load(out)
            tuned.append(float(np.mean(np.asarray(classifier.predict(test_texts)) == test_labels)))
            seconds.append(took)
            print(f"    seed {seed}: probe {probe[-1]:.4f}, tuned {tuned[-1]:.4f}")
        report["steps"] = f"{report['steps']} each"
        rows.append(
            _row(
                f"Few-shot sentiment, tweets, {shots}/class, accuracy (mean of {args.seeds} seeds)",
                float(np.mean(probe)),
                float(np.mean(tuned)),
                report,
                float(np.mean(seconds)),
                before_name="frozen + logistic probe",
            )
        )
    return rows


def _row(name, before, after, report, seconds, before_name="MiniLM zero-shot") -> list[str]:
    return [
        name,
        f"{100 * before:.2f} ({before_name})",
        f"{100 * after:.2f}",
        f"{100 * (after - before):+.2f}",
        f"{report['steps']} steps x {report['batch_size']}, {report['precision']}",
        f"{seconds:.0f} s ({report['train_seconds']:.0f} s training)",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=4.0, help="training budget per run")
    parser.add_argument("--sts-epochs", type=int, default=1, help="epochs of the STS-B run")
    parser.add_argument("--wn-epochs", type=float, default=1, help="epochs of the WordNet runs")
    parser.add_argument("--wn-lr", type=float, default=2e-5, help="WordNet learning rate")
    parser.add_argument("--symmetric", action="store_true", help="WordNet: symmetric MNRL")
    parser.add_argument("--group-by-length", action="store_true", help="WordNet: less padding")
    parser.add_argument("--pseudo-threshold", type=float, default=0.5)
    parser.add_argument("--seeds", type=int, default=3, help="few-shot seeds (the issue: 5)")
    parser.add_argument("--shots", default="8", help="examples per class, e.g. 8,32")
    parser.add_argument("--hard-negatives", type=int, default=3)
    parser.add_argument("--mine-rows", type=int, default=6000, help="0: mine every pair")
    parser.add_argument("--setfit-pairs", type=int, default=40, help="pairs per text")
    parser.add_argument("--setfit-lr", type=float, default=5e-5)
    parser.add_argument("--test-size", type=int, default=1000, help="few-shot test tweets")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rows", default="sts,wn,wn-hard,tsdae,mlm,fewshot")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--out", type=Path, default=RESULTS, help="where the table is saved")
    args = parser.parse_args()
    args.shots = [int(s) for s in args.shots.split(",")]
    if args.threads:
        os.environ["EMBEDLAB_THREADS"] = str(args.threads)
    wanted = args.rows.split(",")
    threading.Thread(target=sample_load, daemon=True).start()
    started = time.perf_counter()
    table: list[list[str]] = []
    with tempfile.TemporaryDirectory(prefix="bench-finetune-") as tmp:
        work = Path(tmp)
        for name, rows in (
            ("sts", sts_rows),
            ("wn", wn_rows),
            ("wn-hard", wn_hard_rows),
            ("tsdae", lambda a, w: adaptation_rows(a, w, ("tsdae",))),
            ("mlm", lambda a, w: adaptation_rows(a, w, ("mlm",))),
            ("pseudo", lambda a, w: adaptation_rows(a, w, ("pseudo",))),
            ("fewshot", fewshot_rows),
        ):
            if name in wanted:
                print(f"== {name}")
                table += rows(args, work)
    header = ["task", "before", "after", "change", "training", "run time"]
    lines = [
        "# Fine-tuning MiniLM (all-MiniLM-L6-v2) with `embedlab.finetune`",
        "",
        f"CPU: {cpu_line()}; {platform.python_version()}; shared machine (1-minute load "
        f"average {min(LOADS):.1f} to {max(LOADS):.1f}, sampled every 30 s). Command: `python "
        f"bench/finetune.py {' '.join(sys.argv[1:])}`; total "
        f"{time.perf_counter() - started:.0f} s.",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
        *("| " + " | ".join(row) + " |" for row in table),
        "",
    ]
    text = "\n".join(lines)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(re.sub(r"\n{3,}", "\n\n", text), encoding="utf-8")


if __name__ == "__main__":
    main()
