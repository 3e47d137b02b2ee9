"""GloVe, written here: streamed co-occurrence counting, then weighted least squares with AdaGrad.

GloVe (Pennington et al. 2014) fits ``w_i . c_j + b_i + b'_j ~ log X_ij`` over the non-zero
co-occurrence counts ``X_ij``, each weighted by ``f(X) = min(1, (X / x_max) ** alpha)``.

1. Counting streams the corpus once for the vocabulary and once for pairs: token ids of a chunk of
   texts are laid end to end, and for each distance d = 1..window every pair (token, token + d)
   inside one text is added with weight 1/d, all as numpy array operations. Each chunk becomes
   a sparse matrix that is summed into the total, so memory grows with the number of distinct
   pairs, never with the corpus.
2. Training shuffles the non-zero entries each epoch and takes AdaGrad steps on batches of them
   in torch (CPU), as the reference C code does entry by entry: gather the rows, compute every
   entry's weighted error at once, scale each entry's gradient by its row's accumulated squared
   gradients, and add the steps back with ``index_add_``. Steps of the same row in one batch add
   up, exactly as concurrent (Hogwild) updates do in the C code; ``workers`` threads share the
   vectors the same way. Each torch op runs on one thread, which keeps a busy machine from
   stalling on OpenMP barriers.
3. The final vector of a word is ``w + c``, its word and context vectors summed, as in the paper.
"""

from __future__ import annotations

import time
from collections import Counter
from numbers import Real
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from embedlab.checks import whole
from embedlab.embedders.options import Option, declare, defaults
from embedlab.embedders.words.corpus import TokenCorpus, no_words_error
from embedlab.embedders.words.training import TrainedWordModel
from embedlab.embedders.words.vectors import DEFAULT_SIF_A, WordVectors
from embedlab.errors import InputError
from embedlab.extras import require
from embedlab.progress import progress_bar

CHUNK_TOKENS = 1_000_000  # tokens per counting chunk: ~window x this many pairs in memory


def build_vocabulary(
    tokens: TokenCorpus, min_count: int, max_vocab: int | None
) -> tuple[list[str], np.ndarray]:
    """Words seen at least ``min_count`` times, most frequent first (ties alphabetical)."""
    counter: Counter[str] = Counter()
    for piece in tokens:
        counter.update(piece)
    kept = sorted(
        ((w, c) for w, c in counter.items() if c >= min_count), key=lambda wc: (-wc[1], wc[0])
    )
    if max_vocab is not None:
        kept = kept[:max_vocab]
    return [w for w, _ in kept], np.array([c for _, c in kept], dtype=np.int64)


def cooccurrence(
    tokens: TokenCorpus,
    index: dict[str, int],
    window: int,
    *,
    progress: Any = None,
    chunk_tokens: int = CHUNK_TOKENS,
) -> Any:
    """The symmetric co-occurrence matrix ``X`` (scipy CSR, float32) with 1/distance weights.

    Words outside the vocabulary are dropped before windowing (as GloVe's ``cooccur`` does), so
    windows reach across them. ``X[i, j] == X[j, i]``; a word next to itself counts on the
    diagonal twice, once per direction, again as in the reference implementation.
    """
    import scipy.sparse as sp

    size = len(index)
    total = sp.csr_matrix((size, size), dtype=np.float32)
    ids: list[int] = []
    docs: list[int] = []
    doc = 0

    def flush() -> None:
        nonlocal total, ids, docs
        if ids:
            total = total + _chunk_matrix(
                np.array(ids, np.int32), np.array(docs, np.int32), window, size
            )
        ids, docs = [], []

    get = index.get
    for piece in tokens:
        kept = [i for i in map(get, piece) if i is not None]
        if len(kept) > 1:
            ids.extend(kept)
            docs.extend([doc] * len(kept))
            doc += 1
        if len(ids) >= chunk_tokens:
            flush()
        if progress is not None:
            progress(1)
    flush()
    total = total + total.T  # both directions: X[i, j] counts j after i and i after j
    total.sum_duplicates()
    return total.tocsr()


def _chunk_matrix(ids: np.ndarray, docs: np.ndarray, window: int, size: int) -> Any:
    """Forward pairs (earlier token, later token) of one chunk, weighted 1/distance, summed."""
    import scipy.sparse as sp

    # the pairs are written straight into arrays of their final size (int32 ids, as ``ids``):
    # a list of pieces and then their concatenation would hold every pair twice at the peak
    distances = range(1, min(window, len(ids) - 1) + 1)
    same = [docs[distance:] == docs[:-distance] for distance in distances]
    total = sum(int(mask.sum()) for mask in same)
    rows = np.empty(total, dtype=ids.dtype)
    cols = np.empty(total, dtype=ids.dtype)
    vals = np.empty(total, dtype=np.float32)
    start = 0
    for distance, mask in zip(distances, same, strict=True):
        stop = start + int(mask.sum())
        np.compress(mask, ids[:-distance], out=rows[start:stop])
        np.compress(mask, ids[distance:], out=cols[start:stop])
        vals[start:stop] = np.float32(1.0 / distance)
        start = stop
    matrix = sp.coo_matrix((vals, (rows, cols)), shape=(size, size)).tocsr()
    matrix.sum_duplicates()
    return matrix


def _float(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, Real):
        raise InputError(f"{name} must be a number, got {value!r}", f"e.g. {name}=0.75")
    return float(value)


class GloVeEmbedder(TrainedWordModel):
    """GloVe word vectors trained here (see the module docstring for the algorithm).

    Defaults follow the reference code's demo for corpora of millions of tokens (window 10,
    x_max 10, 15 epochs, learning rate 0.05); the paper's x_max 100 suits billions of tokens,
    where counts are far larger. ``loss_history`` holds each epoch's mean weighted squared error.
    """

    method = "glove"
    options = defaults(
        declare(
            TrainedWordModel.options,
            Option("x_max", check=_float),
            Option("alpha", check=_float),
            Option("learning_rate", check=_float),
            Option("batch_size", check=whole()),
        ),
        dim=100,
        window=10,
        min_count=5,
        x_max=10.0,
        alpha=0.75,
        epochs=15,
        learning_rate=0.05,
        batch_size=16_384,
        workers=2,
        seed=1,
    )

    def __init__(
        self,
        *,
        dim: int = 100,
        window: int = 10,
        min_count: int = 5,
        max_vocab: int | None = None,
        x_max: float = 10.0,
        alpha: float = 0.75,
        epochs: int = 15,
        learning_rate: float = 0.05,
        batch_size: int = 16_384,
        workers: int = 2,
        seed: int = 1,
        lowercase: bool = True,
        pooling: str = "mean",
        sif_a: float = DEFAULT_SIF_A,
    ) -> None:
        super().__init__(
            dim=dim,
            window=window,
            min_count=min_count,
            max_vocab=max_vocab,
            x_max=x_max,
            alpha=alpha,
            epochs=epochs,
            learning_rate=learning_rate,
            batch_size=batch_size,
            workers=workers,
            seed=seed,
            lowercase=lowercase,
            pooling=pooling,
            sif_a=sif_a,
        )
        self.loss_history: list[float] = []

    def _check_values(self, values: dict[str, Any]) -> None:
        if not all(values[k] > 0 for k in ("x_max", "alpha", "learning_rate")):
            raise InputError(
                "x_max, alpha and learning_rate must be positive",
                "use the defaults: x_max=10, alpha=0.75, learning_rate=0.05",
            )

    def _train(self, tokens: TokenCorpus, started: float, progress: bool) -> dict[str, Any]:
        """Count co-occurrences in the streamed corpus, then fit the vectors to them."""
        require("torch", "train")

        p = self.params
        words, counts = build_vocabulary(tokens, p["min_count"], p["max_vocab"])
        if not words:
            raise no_words_error(tokens, p["min_count"])
        index = {w: i for i, w in enumerate(words)}
        with progress_bar("counting co-occurrences", tokens.texts, enabled=progress) as adv:
            matrix = cooccurrence(tokens, index, p["window"], progress=adv)
        tokens.close()  # the co-occurrences are all that training reads: free the token cache
        nonzero = int(matrix.nnz)
        if nonzero == 0:
            raise InputError(
                "no two vocabulary words ever occur within a window of each other",
                "train on a larger corpus, or lower min_count",
            )
        count_seconds = time.perf_counter() - started
        train_started = time.perf_counter()
        entries = glove_entries(matrix, p)
        del matrix  # the entries share its ids; its counts live on only as targets and weights
        vectors, self.loss_history = train_glove(entries, p, progress=progress)
        train_seconds = time.perf_counter() - train_started
        if not np.isfinite(self.loss_history[-1]):
            raise InputError(
                f"GloVe training diverged with learning_rate={p['learning_rate']}",
                "lower learning_rate (the default is 0.05)",
            )
        self.vectors = WordVectors(words, vectors, counts)
        return {
            "nonzero_cooccurrences": nonzero,
            "count_seconds": round(count_seconds, 3),
            "train_seconds": round(train_seconds, 3),
            "loss_history": list(self.loss_history),
        }

    def _load_state(self, folder: Path, meta: dict[str, Any]) -> None:
        super()._load_state(folder, meta)
        self.loss_history = list(self.training.get("loss_history", []))


class GloveEntries(NamedTuple):
    """The non-zero co-occurrences as training reads them (torch tensors, one row per entry)."""

    rows: Any  # word ids, int32
    cols: Any  # context word ids, int32
    targets: Any  # log X
    weights: Any  # f(X) = min(1, (X / x_max) ** alpha)
    size: int  # vocabulary size


def glove_entries(matrix: Any, params: dict[str, Any]) -> GloveEntries:
    """Training's view of the co-occurrence ``matrix``: the entries are most of training's
    memory, so the ids are int32 (word ids are below the vocabulary size) and the column ids
    share the matrix's array; drop the matrix afterwards to free its counts."""
    import torch

    coo = matrix.tocoo()
    values = torch.from_numpy(coo.data.astype(np.float32, copy=False))
    return GloveEntries(
        rows=torch.from_numpy(coo.row.astype(np.int32, copy=False)),
        cols=torch.from_numpy(coo.col.astype(np.int32, copy=False)),
        targets=values.log(),
        weights=(values / params["x_max"]).pow_(params["alpha"]).clamp_(max=1.0),
        size=matrix.shape[0],
    )


def train_glove(
    entries: GloveEntries, params: dict[str, Any], *, progress: bool = False
) -> tuple[np.ndarray, list[float]]:
    """Fit GloVe on the co-occurrence ``entries``; returns ``(word + context vectors, per-epoch
    mean loss)``. ``workers`` threads share the vectors lock-free (Hogwild, as GloVe's C code)."""
    import threading

    import torch

    rows, cols, targets, weights = entries.rows, entries.cols, entries.targets, entries.weights
    threads = torch.get_num_threads()
    # one thread per torch op: each worker is its own Python thread (torch releases the GIL),
    # which scales without OpenMP barriers that stall on a busy machine
    torch.set_num_threads(1)
    try:
        generator = torch.Generator().manual_seed(params["seed"])
        state = _GloveState(entries.size, params["dim"], generator)
        n = len(rows)
        batch, rate = params["batch_size"], params["learning_rate"]
        workers = min(params["workers"], max(1, n // batch))
        history: list[float] = []
        with progress_bar(
            "training glove (entries)", params["epochs"] * n, enabled=progress
        ) as advance:
            losses = [0.0] * workers
            failures: list[BaseException] = []

            def work(k: int, part: Any) -> None:
                try:
                    for start in range(0, len(part), batch):
                        pick = part[start : start + batch]
                        losses[k] += state.step(
                            rows.index_select(0, pick),
                            cols.index_select(0, pick),
                            targets.index_select(0, pick),
                            weights.index_select(0, pick),
                            rate,
                        )
                        advance(len(pick))
                except BaseException as exc:  # re-raised in the main thread below
                    failures.append(exc)

            for _ in range(params["epochs"]):
                losses[:] = [0.0] * workers
                # int32 like the ids: the same permutation as int64 from the same generator
                order = torch.randperm(n, generator=generator, dtype=torch.int32)
                parts = order.tensor_split(workers)
                pool = [threading.Thread(target=work, args=(k, p)) for k, p in enumerate(parts)]
                for thread in pool[1:]:
                    thread.start()
                work(0, parts[0])  # the first share runs in this thread
                for thread in pool[1:]:
                    thread.join()
                if failures:
                    raise failures[0]
                history.append(sum(losses) / n)
                del order, parts, pool  # not beside the next epoch's permutation
        return state.vectors(), history
    finally:
        torch.set_num_threads(threads)


class _GloveState:
    """Word and context vectors, biases and AdaGrad accumulators, with one vectorised step.

    As in the reference code the squared-gradient sums start at 1 and the learning rate is
    folded into the gradient, so the first steps are plain SGD and AdaGrad takes over as the
    sums grow.
    """

    def __init__(self, size: int, dim: int, generator: Any) -> None:
        import torch

        def init(*shape: int) -> torch.Tensor:
            return (torch.rand(*shape, generator=generator) - 0.5) / dim

        self.w, self.c = init(size, dim), init(size, dim)
        self.bw, self.bc = init(size), init(size)
        self.gw, self.gc = torch.ones(size, dim), torch.ones(size, dim)
        self.gbw, self.gbc = torch.ones(size), torch.ones(size)

    def step(self, i: Any, j: Any, target: Any, weight: Any, lr: float) -> float:
        """One AdaGrad step on a batch of entries (i, j); returns the batch's loss."""
        import torch

        wi, cj = self.w.index_select(0, i), self.c.index_select(0, j)
        diff = torch.bmm(wi.unsqueeze(1), cj.unsqueeze(2)).view(-1)
        diff += self.bw.index_select(0, i)
        diff += self.bc.index_select(0, j)
        diff -= target
        scaled = weight * diff
        loss = 0.5 * float(scaled.dot(diff))
        scaled.mul_(lr).clamp_(-100.0 * lr, 100.0 * lr)  # the reference code clips at 100
        self._update(self.w, self.gw, i, cj.mul_(scaled[:, None]))  # d loss / d w_i
        self._update(self.c, self.gc, j, wi.mul_(scaled[:, None]))  # d loss / d c_j
        self._update(self.bw, self.gbw, i, scaled.clone())
        self._update(self.bc, self.gbc, j, scaled)
        return loss

    @staticmethod
    def _update(param: Any, squares: Any, index: Any, grad: Any) -> None:
        """AdaGrad on the rows in ``index``: each entry's step uses its row's sums so far;
        entries of the same row in one batch add up, as concurrent updates do in the C code."""
        square = grad * grad
        grad.div_(squares.index_select(0, index).sqrt_())
        param.index_add_(0, index, grad, alpha=-1.0)
        squares.index_add_(0, index, square)

    def vectors(self) -> np.ndarray:
        return (self.w + self.c).numpy().astype(np.float32)
