"""Maps of embedding space (PNG and HTML)."""
