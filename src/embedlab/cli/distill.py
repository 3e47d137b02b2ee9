"""`embedlab distill TEACHER --out DIR`: a static (model2vec) model distilled from a transformer."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from embedlab._io import check_output_folder
from embedlab.cli.checks import Force
from embedlab.cli.report import message_console
from embedlab.training.distill import DEFAULT_PCA_DIMS, check_pca_dims, distill


def distill_command(
    teacher: Annotated[
        str,
        typer.Argument(
            help="A sentence model: minilm, mpnet, or a local (fine-tuned) sentence-transformers "
            "or embedlab transformer folder."
        ),
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the static model.")],
    pca_dims: Annotated[
        int, typer.Option(help="Dimensions kept by PCA (model2vec's pca_dims).")
    ] = DEFAULT_PCA_DIMS,
    force: Force = False,
) -> None:
    """Distil TEACHER into a static model: one vector per subword, about 100x faster (model2vec).

    `embedlab train static` then trains those vectors on the teacher's sentence vectors.
    """
    check_pca_dims(pca_dims)
    check_output_folder(out, force=force)
    model = distill(teacher, out, pca_dims=pca_dims, force=force)
    message_console().print(
        f"distilled {teacher} into {len(model.tokenizer.get_vocab()):,} subword vectors of "
        f"{model.dim} dims; saved to {out} (model2vec folder: {out / 'model'})\n"
        f'try: embedlab similarity "a cat sat" "a kitten sat" -m {out}',
        highlight=False,
        markup=False,
    )
