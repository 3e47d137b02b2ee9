"""What makes models: fine-tuning (finetune/), students taught by a transformer (teacher cache,
student loop, static student), model2vec distillation, and a small GPT trained from scratch."""
