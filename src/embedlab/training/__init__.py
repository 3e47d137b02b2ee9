"""Trainers that produce models (a small GPT today)."""
