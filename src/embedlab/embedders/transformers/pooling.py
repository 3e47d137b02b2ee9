"""Pooling token vectors into one text vector, exactly as sentence-transformers does."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch


POOLING_MODES = ("mean", "cls", "max", "mean_sqrt_len_tokens", "lasttoken")


def pool(hidden: torch.Tensor, mask: torch.Tensor, mode: str) -> torch.Tensor:
    """Pool ``(batch, tokens, dim)`` hidden states over real tokens, as sentence-transformers does."""
    import torch

    expanded = mask.unsqueeze(-1).to(hidden.dtype)
    if mode == "cls":  # first real token, so left padding works too
        first = mask.to(torch.int).argmax(dim=1)
        return hidden[torch.arange(hidden.shape[0]), first]
    if mode == "lasttoken":
        last = mask.shape[1] - 1 - mask.flip(1).to(torch.int).argmax(dim=1)
        return hidden[torch.arange(hidden.shape[0]), last]
    if mode == "max":
        return hidden.masked_fill(expanded == 0, float("-inf")).max(dim=1).values
    summed = (hidden * expanded).sum(dim=1)
    counts = torch.clamp(expanded.sum(dim=1), min=1e-9)
    if mode == "mean_sqrt_len_tokens":
        return summed / torch.sqrt(counts)
    return summed / counts
