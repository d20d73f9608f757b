"""All settings in one place, read from the environment with defaults that work offline."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# Calibration and the FAQ fit also use CLINC150's out-of-scope queries when the shared checkout is beside us.
DEFAULT_CLINC = PROJECT_ROOT.parent / "shared" / "bench" / "clinc150" / "data_full.json"


def _env(name: str, default: str) -> str:
    value = os.environ.get(name, "").strip()
    return value or default


@dataclass(frozen=True)
class Settings:
    notes_dir: Path = field(default_factory=lambda: Path(_env("NOTES_DIR", str(PROJECT_ROOT / "notes"))))
    var_dir: Path = field(default_factory=lambda: Path(_env("VAR_DIR", str(PROJECT_ROOT / "var"))))
    knowledge_db_url: str = field(default_factory=lambda: _env("KNOWLEDGE_DB_URL", ""))
    # One jieba dictionary of domain terms for Rasa's JiebaTokenizer and for BM25; optional.
    jieba_userdict: Path = field(
        default_factory=lambda: Path(_env("JIEBA_USERDICT", str(PROJECT_ROOT / "data/dict/userdict.txt")))
    )
    # LLM settings are used by the answer step (llm.py); retrieval ignores them.
    llm_backend: str = field(default_factory=lambda: _env("LLM_BACKEND", "llama_cpp"))
    llm_model_path: str = field(default_factory=lambda: _env("LLM_MODEL_PATH", ""))
    llm_base_url: str = field(default_factory=lambda: _env("LLM_BASE_URL", ""))
    llm_timeout_s: float = field(default_factory=lambda: float(_env("LLM_TIMEOUT_S", "20")))
    # Requests waiting for the one model instance beyond this many get a "busy" reply.
    llm_queue_max: int = field(default_factory=lambda: int(_env("LLM_QUEUE_MAX", "4")))
    llm_threads: int = field(default_factory=lambda: int(_env("LLM_THREADS", str(os.cpu_count() or 1))))
    # Grounded prompts stay under ~700 tokens; 2048 leaves room for the answer at a small KV cache.
    llm_ctx: int = field(default_factory=lambda: int(_env("LLM_CTX", "2048")))
    llm_max_tokens: int = field(default_factory=lambda: int(_env("LLM_MAX_TOKENS", "160")))
    # Generated FAQ (faq_*.py). Reviewed pairs are served; proposed ones too when this says so.
    faq_serve_proposed: bool = field(
        default_factory=lambda: _env("FAQ_SERVE_PROPOSED", "false").lower() in ("1", "true", "yes")
    )
    # A question is answered by a FAQ pair only when the matcher's probability that the pair answers
    # it reaches this (0..1, see faq_match.py); unset, the threshold fitted by `faq fit` applies.
    # Below it the notes answer (retrieval + LLM) takes over, which is better than a wrong FAQ.
    faq_min_confidence: float | None = field(
        default_factory=lambda: float(v) if (v := _env("FAQ_MIN_CONFIDENCE", "")) else None
    )
    # Generated questions this similar to a kept one are rejected as near-duplicates.
    faq_dup_similarity: float = field(default_factory=lambda: float(_env("FAQ_DUP_SIMILARITY", "0.90")))
    # The curated FAQ shipped with the repository; `index` loads it into the store when it changes.
    faq_file: Path = field(default_factory=lambda: Path(_env("FAQ_FILE", str(PROJECT_ROOT / "faq/faq.yml"))))
    faq_max_tokens: int = field(default_factory=lambda: int(_env("FAQ_MAX_TOKENS", "360")))
    # A follow-up leans on the previous answer only within this many seconds of it; later, a
    # message starts fresh (Rasa's own session, domain.yml, expires later and resets more).
    context_ttl_s: float = field(default_factory=lambda: float(_env("CONTEXT_TTL_S", "1800")))

    @property
    def db_url(self) -> str:
        """SQLAlchemy URL of the knowledge store; a SQLite file under var/ unless configured."""
        return self.knowledge_db_url or f"sqlite:///{self.var_dir / 'knowledge.db'}"


def load_settings() -> Settings:
    return Settings()
