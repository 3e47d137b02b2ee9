"""Text handling: word tokenisation, streaming corpus readers."""
