"""int8 for OpenVINO: NNCF's post-training quantization of the plain export, made once and kept
beside it.

Why: on AMX CPUs int8 matrix products run about twice as fast as bf16 ones, which pays for wide
models: all-mpnet-base-v2 ran 5.1x sentence-transformers per CPU-second against openvino-bf16's
4.6x, at mean cosine 0.9955 / min 0.9888 to fp32 (``bench/results/openvino_int8.md``); MiniLM
gained nothing (3.9x either way). Quantizing every MatMul cost mpnet too much (mean cosine
0.965), so attention's activation-by-activation products and the output projections stay in
bf16 (:data:`KEPT`). Calibration uses bundled WordNet sentences
(:func:`~embedlab.data.calibration_texts`), not the sentences ``auto`` checks vectors on.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import uuid
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np

from embedlab.extras import require

RECIPE = 1  # bump when KEPT, the calibration or the options change
# Name patterns (BERT and MPNet exports) of the MatMuls that stay in bf16.
KEPT = (
    ".*attention/self/MatMul.*",  # BERT: scores and context (activation x activation)
    ".*attention/attn/MatMul.*",  # MPNet: the same
    ".*/output/dense/MatMul",  # BERT: attention output and feed-forward output projections
    ".*attention/attn/o/MatMul",  # MPNet: attention output projection
)


def int8_recipe() -> str:
    """The recipe and NNCF version that make the int8 graph ("r1-nncf3.4.0"; "none" for NNCF
    when it is not installed, so that nothing int8 can have been made)."""
    try:
        nncf = version("nncf")
    except PackageNotFoundError:
        nncf = "none"
    return f"r{RECIPE}-nncf{nncf}"


def int8_path(onnx_path: Path) -> Path:
    """Where the int8 graph of the export at ``onnx_path`` is kept (recipe and NNCF version in
    the name, so a change makes a new one)."""
    require("nncf", "transformers")
    return onnx_path.parent / f"openvino-int8-{int8_recipe()}.xml"


def quantized_graph(
    onnx_path: Path, calibration: Callable[[], list[dict[str, np.ndarray]]]
) -> Path:
    """The int8 OpenVINO graph of ``onnx_path``, quantizing it the first time.

    ``calibration`` gives the padded input batches NNCF runs to measure activation ranges (only
    called when the graph is made). Written under temporary names and renamed, weights first, so
    an interrupted run leaves no graph that looks finished.
    """
    target = int8_path(onnx_path)
    if target.is_file() and target.with_suffix(".bin").is_file():
        return target
    require("nncf", "transformers")
    import nncf
    import openvino as ov

    batches = calibration()
    logging.getLogger("nncf").setLevel(logging.ERROR)
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        model = nncf.quantize(
            ov.Core().read_model(str(onnx_path)),
            nncf.Dataset(batches),
            model_type=nncf.ModelType.TRANSFORMER,
            subset_size=len(batches),
            ignored_scope=nncf.IgnoredScope(patterns=list(KEPT), validate=False),
        )
    tmp = target.with_name(f".{target.stem}.{uuid.uuid4().hex}.xml")
    try:
        ov.save_model(model, str(tmp), compress_to_fp16=False)
        os.replace(tmp.with_suffix(".bin"), target.with_suffix(".bin"))
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
        tmp.with_suffix(".bin").unlink(missing_ok=True)
    return target
