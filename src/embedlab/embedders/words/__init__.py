"""Static word vectors: KeyedVectors-style vectors and their file formats, and the models trained
here over a token corpus (word2vec, fastText, Doc2Vec, GloVe)."""
