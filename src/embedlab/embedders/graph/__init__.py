"""Graph node embeddings: graph reading, random walks, DeepWalk and node2vec."""
