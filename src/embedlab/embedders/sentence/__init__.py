"""Sentence encoders trained here from a transformer teacher: DAN and BiLSTM-max students.

The static student is a model2vec folder (see :mod:`embedlab.training.static_student`), run by
:class:`embedlab.embedders.static.StaticEmbedder`; the trainers live in :mod:`embedlab.training`.
"""
