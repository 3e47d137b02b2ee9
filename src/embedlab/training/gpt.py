"""Train a small GPT-2-style model on a text corpus, on a CPU, in minutes.

No causal language model ships offline here, so GPT-style (left-to-right) embeddings need one
trained locally. This uses transformers' own ``GPT2LMHeadModel`` and a byte-level BPE tokenizer
trained on the same corpus with ``tokenizers``, and saves an ordinary Hugging Face folder
(config.json, model.safetensors, tokenizer.json): ``embedlab.load(folder)`` embeds with it like
with any other model (last-token pooling by default), and transformers can generate with it.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from embedlab._hub import hub_offline
from embedlab._io import atomic_folder, check_output_folder
from embedlab.embedders.transformers.config import quiet_transformers
from embedlab.errors import InputError, OutputError
from embedlab.extras import require
from embedlab.progress import progress_bar
from embedlab.threads import resolve_threads

END_OF_TEXT = "<|endoftext|>"


@dataclass
class GPTSettings:
    """Model and training sizes; the defaults train in a few minutes on two CPU cores."""

    layers: int = 4
    dim: int = 128
    heads: int = 4
    context: int = 64
    vocab_size: int = 3000
    steps: int = 300
    batch_size: int = 16
    lr: float = 2e-3
    dropout: float = 0.1
    seed: int = 0
    minutes: float | None = 10.0
    threads: int | None = None  # else $EMBEDLAB_THREADS, else 1 (measured: 15x faster here)

    def check(self) -> None:
        for name in ("layers", "dim", "heads", "context", "steps", "batch_size"):
            if getattr(self, name) < 1:
                raise InputError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.dim % self.heads:
            raise InputError(
                f"dim {self.dim} is not a multiple of heads {self.heads}",
                "each attention head gets dim / heads dimensions; use e.g. dim 128, heads 4",
            )
        if self.vocab_size < 260:
            raise InputError(
                f"vocab_size {self.vocab_size} is too small for a byte-level tokenizer",
                "use at least 260 (256 bytes + special tokens + merges)",
            )
        if not 0 < self.lr < 1:
            raise InputError(f"lr must be between 0 and 1, got {self.lr}", "use e.g. 2e-3")


@dataclass
class GPTTrainingResult:
    """Where the model went and what training achieved (validation loss before and after)."""

    folder: Path
    steps: int
    train_tokens: int
    validation_tokens: int
    loss_before: float
    loss_after: float
    seconds: float
    parameters: int

    @property
    def perplexity(self) -> float:
        return math.exp(self.loss_after)


def train_gpt(
    corpus: Iterable[str] | Callable[[], Iterable[str]],
    out: str | os.PathLike[str],
    settings: GPTSettings | None = None,
    *,
    overwrite: bool = False,
    progress: bool = False,
) -> GPTTrainingResult:
    """Train a tokenizer and a GPT-2-style model on ``corpus`` (documents) and save to ``out``.

    ``corpus`` is an iterable of documents, or a function returning a fresh one (a file
    reader): it is read twice, once to train the tokenizer and once to encode. 5% of the
    token blocks are held out to report validation loss before and after training.
    """
    settings = settings or GPTSettings()
    settings.check()
    target = Path(out)
    check_output_folder(target, force=overwrite)  # a file or a foreign folder: refused now
    if target.is_dir() and any(target.iterdir()) and not overwrite:  # before any heavy import
        raise OutputError(
            f"{target} already exists and is not empty",
            "pick another --out folder, or pass --overwrite (overwrite=True) to replace it",
        )
    for module in ("torch", "transformers"):
        require(module, "transformers")
    import torch

    threads = resolve_threads(settings.threads)
    before = torch.get_num_threads()
    # A small model does many small ops; with two threads on a busy 2-core machine every op
    # waits for the other thread (measured: 17.8 s against 1.2 s for the same 40 steps).
    torch.set_num_threads(threads)
    try:
        with quiet_transformers():
            return _train(corpus, target, settings, progress)
    finally:
        torch.set_num_threads(before)


def _train(
    corpus: Iterable[str] | Callable[[], Iterable[str]],
    target: Path,
    settings: GPTSettings,
    progress: bool,
) -> GPTTrainingResult:
    import torch

    hub_offline()
    from transformers import GPT2Config, GPT2LMHeadModel

    started = time.perf_counter()
    torch.manual_seed(settings.seed)
    rng = np.random.default_rng(settings.seed)

    def documents() -> Iterable[str]:
        for text in corpus() if callable(corpus) else corpus:
            if isinstance(text, str) and text.strip():
                yield text

    tokenizer = _train_tokenizer(documents(), settings.vocab_size)
    eos = tokenizer.token_to_id(END_OF_TEXT)
    stream: list[int] = []
    for text in documents():
        stream.extend(tokenizer.encode(text).ids)
        stream.append(eos)
    block = settings.context
    n_blocks = len(stream) // block
    if n_blocks < 4:
        raise InputError(
            f"the corpus has {len(stream):,} tokens, too few for blocks of {block}",
            "pass a larger corpus or a smaller --context",
        )
    blocks = torch.tensor(stream[: n_blocks * block], dtype=torch.long).view(n_blocks, block)
    order = rng.permutation(n_blocks)
    n_val = max(1, n_blocks // 20)
    valid, train = blocks[order[:n_val]], blocks[order[n_val:]]

    config = GPT2Config(
        vocab_size=tokenizer.get_vocab_size(),
        n_positions=block,
        n_embd=settings.dim,
        n_layer=settings.layers,
        n_head=settings.heads,
        resid_pdrop=settings.dropout,
        embd_pdrop=settings.dropout,
        attn_pdrop=settings.dropout,
        bos_token_id=eos,
        eos_token_id=eos,
        pad_token_id=eos,
    )
    model = GPT2LMHeadModel(config)
    loss_before = _validation_loss(model, valid)
    optimiser = torch.optim.AdamW(model.parameters(), lr=settings.lr, weight_decay=0.01)
    warmup = max(1, settings.steps // 20)

    def schedule(step: int) -> float:  # linear warm-up, then cosine decay to 10%
        if step < warmup:
            return (step + 1) / warmup
        done = (step - warmup) / max(1, settings.steps - warmup)
        return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(done, 1.0)))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimiser, schedule)

    deadline = started + settings.minutes * 60 if settings.minutes else math.inf
    steps = 0
    model.train()
    with progress_bar("training GPT", settings.steps, enabled=progress) as advance:
        for _ in range(settings.steps):
            rows = torch.from_numpy(rng.integers(0, len(train), settings.batch_size))
            batch = train[rows]
            loss = model(input_ids=batch, attention_mask=torch.ones_like(batch), labels=batch).loss
            optimiser.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimiser.step()
            scheduler.step()
            advance(1)
            steps += 1
            if time.perf_counter() > deadline:
                break
    loss_after = _validation_loss(model, valid)
    result = GPTTrainingResult(
        folder=target,
        steps=steps,
        train_tokens=int(train.numel()),
        validation_tokens=int(valid.numel()),
        loss_before=loss_before,
        loss_after=loss_after,
        seconds=time.perf_counter() - started,
        parameters=sum(p.numel() for p in model.parameters()),
    )
    _save(model, tokenizer, target, settings, result)
    return result


def _train_tokenizer(texts: Iterable[str], vocab_size: int) -> Any:
    """Byte-level BPE, as GPT-2's: any text encodes, no unknown tokens."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.post_processor = processors.ByteLevel(trim_offsets=True)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=2,
        special_tokens=[END_OF_TEXT],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer=trainer)
    return tokenizer


def _validation_loss(model: Any, valid: Any) -> float:
    import torch

    was_training = model.training
    model.eval()
    with torch.no_grad():
        losses = [
            float(model(input_ids=c, attention_mask=torch.ones_like(c), labels=c).loss)
            for c in valid.split(16, dim=0)
        ]
    model.train(was_training)
    return float(np.mean(losses))


def _save(
    model: Any, tokenizer: Any, target: Path, settings: GPTSettings, result: GPTTrainingResult
) -> None:
    """An ordinary Hugging Face folder, written beside the target and renamed into place."""
    hub_offline()
    from transformers import PreTrainedTokenizerFast

    hf_tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        bos_token=END_OF_TEXT,
        eos_token=END_OF_TEXT,
        unk_token=END_OF_TEXT,
        pad_token=END_OF_TEXT,
        model_max_length=settings.context,
    )
    with atomic_folder(target, force=True) as tmp:  # train_gpt checked the target first
        model.eval()
        model.save_pretrained(tmp, safe_serialization=True)
        hf_tokenizer.save_pretrained(tmp)
        info = {
            "settings": asdict(settings),
            **{k: v for k, v in asdict(result).items() if k != "folder"},
            "validation_perplexity": result.perplexity,
        }
        (tmp / "training.json").write_text(json.dumps(info, indent=2), encoding="utf-8")
