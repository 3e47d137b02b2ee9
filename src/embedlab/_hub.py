"""Keep Hugging Face libraries offline: weights come from installed packages or local folders.

Called just before transformers (and so huggingface_hub) is first imported, which reads these
variables once; ``import embedlab`` itself leaves the environment alone. A value the user set
wins.
"""

from __future__ import annotations

import os


def hub_offline() -> None:
    """Tell huggingface_hub and transformers never to reach a model hub."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
