"""Applications built on embeddings: search, RAG retrieval, clustering, classification, ..."""
