"""Continued masked-language-model pretraining on a domain corpus (the alternative to TSDAE).

The encoder is trained as BERT was (15% of tokens masked, predicted back) on the user's text
with transformers' own Trainer, then its weights go back under the sentence model's pooling.
The MLM head is new for sentence models (their folders keep only the encoder), which is part of
why TSDAE, trained through the pooled vector itself, usually helps a sentence model more.
"""

from __future__ import annotations

from typing import Any

from embedlab.embedders.transformers.config import quiet_transformers
from embedlab.extras import require

MLM_PROBABILITY = 0.15


def mlm_trainer(
    st_model: Any, texts: list[str], args: dict[str, Any], callbacks: list[Any]
) -> tuple[Any, Any]:
    """A transformers Trainer for MLM on ``texts``, and a function that copies the trained
    encoder back into ``st_model`` (call it after training)."""
    transformers = require("transformers", "transformers")
    datasets = require("datasets", "train")
    encoder = st_model[0]
    tokenizer = encoder.tokenizer
    folder = encoder.auto_model.config._name_or_path
    with quiet_transformers():  # the MLM head is reported as newly initialised
        model = transformers.AutoModelForMaskedLM.from_pretrained(folder)
    prefix = model.base_model_prefix
    getattr(model, prefix).load_state_dict(encoder.auto_model.state_dict(), strict=False)
    tokens = tokenizer(texts, truncation=True, max_length=st_model.max_seq_length)
    dataset = datasets.Dataset.from_dict(dict(tokens))
    collator = transformers.DataCollatorForLanguageModeling(
        tokenizer, mlm_probability=MLM_PROBABILITY
    )
    trainer = transformers.Trainer(
        model=model,
        args=transformers.TrainingArguments(**args),
        train_dataset=dataset,
        data_collator=collator,
        callbacks=callbacks,
    )

    def copy_back() -> None:
        encoder.auto_model.load_state_dict(getattr(model, prefix).state_dict(), strict=False)

    return trainer, copy_back
