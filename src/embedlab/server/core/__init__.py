"""The server's work without HTTP: served models, the batcher, jobs, collections.

Nothing here imports a web framework or knows a status code; refusals are embedlab errors
(:mod:`embedlab.server.core.errors`) that :mod:`embedlab.server.http.errors` maps to statuses.
"""
