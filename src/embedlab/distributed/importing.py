"""Loading the shards of a finished run into a collection (``embedlab collection import``).

A local collection is written by one process, so a cluster run writes shards and they are
imported afterwards, shard by shard, with the vectors as computed (nothing is embedded again).
The collection is bound to the run's model and dimension; chosen fields become metadata.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from embedlab.distributed.layout import complete_manifest, iter_shards
from embedlab.progress import progress_bar
from embedlab.store.collection import Collection
from embedlab.store.factory import create_collection


def is_shard_folder(path: str | os.PathLike[str]) -> bool:
    return Path(path).is_dir() and (Path(path) / "_manifest.json").is_file()


def import_shards(
    folder: str | os.PathLike[str],
    location: str | os.PathLike[str],
    name: str | None = None,
    *,
    upsert: bool = False,
    storage: str | None = None,
    index: str | None = None,
    progress: bool = False,
) -> Collection:
    """Create (or, with ``upsert``, update) the collection at ``location`` from the shards in
    ``folder``; ids already present are an error unless ``upsert``. Returns it open."""
    import pyarrow.parquet as pq

    out = Path(folder)
    manifest = complete_manifest(out)
    source = manifest.get("model_source")
    extra = {"model_source": source} if source and Path(source).exists() else {}
    collection = create_collection(
        location,
        name,
        model=manifest["model"],
        dim=int(manifest["dim"]),
        storage=storage or "float32",
        index=index or "auto",
        exist_ok=upsert,
        extra=extra,
    )
    write = collection.upsert if upsert else collection.add
    fields = list(manifest.get("fields") or [])
    try:
        with progress_bar(
            f"importing into {collection.name}", int(manifest["rows"]), enabled=progress
        ) as advance:
            for _, path in iter_shards(out, manifest):
                table = pq.read_table(path)
                if table.num_rows == 0:
                    continue
                column = table.column("vector").combine_chunks()
                vectors = np.asarray(column.flatten().to_numpy(), np.float32).reshape(
                    table.num_rows, -1
                )
                extras = {f: table.column(f).to_pylist() for f in fields}
                write(
                    table.column("text").to_pylist(),
                    ids=[str(i) for i in table.column("id").to_pylist()],
                    metadatas=[{f: extras[f][i] for f in fields} for i in range(table.num_rows)],
                    vectors=vectors,
                    model=manifest["model"],
                    commit_every=max(table.num_rows, 1),
                )
                advance(table.num_rows)
    except BaseException:
        collection.close()
        raise
    return collection
