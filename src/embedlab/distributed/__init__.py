"""Distributed batch embedding on a Ray cluster (``embedlab embed ... --ray``).

``embed_dataset`` cuts files, folders or globs into shards by row range, embeds them with a
Ray Data actor pool (each actor holds the model once) into Parquet shards with a manifest, and
can upsert every shard into a PostgreSQL collection by id. A re-run skips finished shards;
``import_shards`` loads a finished run into any collection. Needs ``pip install 'embedlab[ray]'``.
"""

from __future__ import annotations

from embedlab.distributed.cluster import ClusterError
from embedlab.distributed.importing import import_shards, is_shard_folder
from embedlab.distributed.run import DistributedResult, NodeFigures, embed_dataset

__all__ = [
    "ClusterError",
    "DistributedResult",
    "NodeFigures",
    "embed_dataset",
    "import_shards",
    "is_shard_folder",
]
