"""onnxruntime sessions for spermlab's learned detectors (SpermNet, YOLO exported to ONNX).

onnxruntime is a core dependency, so a learned model runs without torch. One place opens a
model file, with one set of options and one error message naming the file.
"""

from __future__ import annotations

import hashlib
from os import PathLike
from typing import Any

__all__ = ["onnx_session", "require_onnxruntime", "sha256_file"]

INSTALL = "pip install onnxruntime (a core dependency of spermlab; reinstall spermlab)"


def require_onnxruntime() -> Any:
    """Import onnxruntime or raise an ImportError that names the pip command."""
    try:
        import onnxruntime
    except ImportError as e:  # a broken install: it is a core dependency
        raise ImportError(f"the learned detectors need onnxruntime: {INSTALL}") from e
    return onnxruntime


def onnx_session(path: str | PathLike[str], *, threads: int | None = None) -> Any:
    """A CPU ``onnxruntime.InferenceSession`` of ``path``.

    Parameters
    ----------
    path : path
        The ``.onnx`` file.
    threads : int, optional
        Intra-op threads; default onnxruntime's (one per physical core).

    Raises
    ------
    ValueError
        When the file is not a model onnxruntime can load; the message names the file.
    """
    ort = require_onnxruntime()
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    if threads is not None:
        opts.intra_op_num_threads = int(threads)
        opts.inter_op_num_threads = 1
    try:
        return ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
    except Exception as e:  # onnxruntime raises its own exception types
        raise ValueError(f"{path}: not a readable ONNX model ({e})") from None


def sha256_file(path: str | PathLike[str]) -> str:
    """Hex SHA-256 of a file, read in 1 MiB chunks (recorded with results, so that an input
    video or a model is identified exactly)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
