"""LLM backends behind one small interface, and the one model instance a process shares.

Backends only stream text pieces; `LLM` adds what every backend needs the same way: lazy loading
once per process, a bounded queue in front of the single model, a time budget enforced between
pieces so that a slow generation is cut off and the caller can fall back to an extractive answer,
and one place where every message is cleaned of chat-template control tokens (`prepare_messages`).
A backend that can count prompt tokens (llama.cpp) lets callers fit a prompt to its context
window (`LLM.overflow`); a prompt that still does not fit raises `ContextOverflow`, an LLMError.

Backends (LLM_BACKEND):
- ``llama_cpp`` (default): a GGUF file through llama-cpp-python, with the file's chat template.
- ``transformers``: a Hugging Face model directory, or a GGUF file loaded with ``gguf_file=``.
- ``openai``: any OpenAI-compatible server (vLLM, Ollama, llama-server); LLM_BASE_URL ends in /v1,
  LLM_MODEL_PATH names the served model.
"""

from __future__ import annotations

import functools
import itertools
import json
import logging
import threading
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from llm_fallback.config import Settings, load_settings
from llm_fallback.llm.control_tokens import neutralise_control_tokens
from llm_fallback.llm.errors import ContextOverflow, LLMBusy, LLMError, LLMTimeout
from llm_fallback.llm.model import DEFAULT_MODEL, is_prepared, model_file

log = logging.getLogger(__name__)

Message = dict[str, str]
Prompt = str | list[Message]

SEED = 0


@dataclass(frozen=True)
class GenerationResult:
    text: str
    tokens: int  # streamed pieces: one per token for llama.cpp and OpenAI-compatible servers
    ttft_s: float | None  # from the call, queue wait included; None when no piece arrived
    elapsed_s: float
    timed_out: bool

    @property
    def tokens_per_s(self) -> float:
        decode_s = self.elapsed_s - (self.ttft_s or 0.0)
        return (self.tokens - 1) / decode_s if self.tokens > 1 and decode_s > 0 else 0.0


Pieces = Generator[str, None, None]


class Backend(Protocol):
    def stream(self, messages: list[Message], max_tokens: int, temperature: float,
               stop: Sequence[str]) -> Pieces:
        """Yield text pieces as they are generated; closing the iterator stops generation."""


class LlamaCppBackend:
    def __init__(self, model_path: Path, n_ctx: int, n_threads: int) -> None:
        from llama_cpp import Llama  # imported here: loading the native library is not free
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        self.llama = Llama(model_path=str(model_path), n_ctx=n_ctx, n_threads=n_threads,
                           n_threads_batch=n_threads, seed=SEED, verbose=False)
        # llama.cpp may round the context up (to 256 tokens) while llama-cpp-python sizes its token
        # buffer to the request, so the smaller of the two is the real limit.
        self.n_ctx = min(n_ctx, self.llama.n_ctx())
        # The GGUF's own chat template, rendered the way create_chat_completion renders it, so that
        # counting a prompt's tokens counts what the model will be given.
        template = self.llama.metadata.get("tokenizer.chat_template")
        self._formatter = template and Jinja2ChatFormatter(
            template=template, eos_token=self._token_text(self.llama.token_eos()),
            bos_token=self._token_text(self.llama.token_bos()))
        self._counted: tuple[tuple[tuple[str, str], ...], int] | None = None

    def _token_text(self, token: int) -> str:
        return self.llama.detokenize([token], special=True).decode("utf-8", "replace") if token >= 0 else ""

    def render(self, messages: list[Message]) -> str:
        """The prompt text the chat template makes of `messages` (generation prompt included)."""
        if not self._formatter:
            return "\n".join(m["content"] for m in messages)  # no template: an estimate
        return self._formatter(messages=messages).prompt

    def prompt_tokens(self, messages: list[Message]) -> int:
        """Tokens of the rendered prompt, control tokens parsed as llama-cpp-python parses them.

        The last count is kept: a caller fitting its prompt and `stream` checking it count the same
        messages, and tokenising costs ~1 ms per 250 tokens here."""
        key = tuple((m["role"], m["content"]) for m in messages)
        counted = self._counted
        if counted is not None and counted[0] == key:
            return counted[1]
        count = len(self.llama.tokenize(self.render(messages).encode("utf-8"), add_bos=False, special=True))
        self._counted = (key, count)
        return count

    def stream(self, messages: list[Message], max_tokens: int, temperature: float,
               stop: Sequence[str]) -> Pieces:
        # Checked here rather than left to llama-cpp-python, whose own check raises a bare ValueError
        # and misses a context it rounded up; the caller can still quote the notes.
        used = self.prompt_tokens(messages)
        if used >= self.n_ctx:
            raise ContextOverflow(f"prompt of {used} tokens exceeds the context window of {self.n_ctx}")
        max_tokens = min(max_tokens, self.n_ctx - used)
        # llama-cpp-python keeps the previous prompt's tokens and re-evaluates only what differs, so a
        # fixed system message is evaluated once per process.
        try:
            chunks = self.llama.create_chat_completion(messages=messages, max_tokens=max_tokens,
                                                      temperature=temperature, stop=list(stop), seed=SEED,
                                                      stream=True)
            first = next(chunks, None)  # the prompt is tokenised and evaluated on the first step
        except ValueError as exc:
            # "Requested tokens (N) exceed context window of M", should the counts ever disagree.
            if "context window" in str(exc):
                raise ContextOverflow(str(exc)) from None
            raise
        try:
            for chunk in itertools.chain([first] if first else [], chunks):
                piece = chunk["choices"][0]["delta"].get("content")
                if piece:
                    yield piece
        finally:
            chunks.close()


class TransformersBackend:
    def __init__(self, model_path: Path, n_threads: int) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        torch.set_num_threads(n_threads)
        torch.manual_seed(SEED)
        if model_path.suffix == ".gguf":
            source, kwargs = str(model_path.parent), {"gguf_file": model_path.name}
        else:
            source, kwargs = str(model_path), {}
        self._tokenizer = AutoTokenizer.from_pretrained(source, **kwargs)
        self._model = AutoModelForCausalLM.from_pretrained(source, **kwargs)

    def stream(self, messages: list[Message], max_tokens: int, temperature: float,
               stop: Sequence[str]) -> Pieces:
        import torch
        from transformers import StoppingCriteria, StoppingCriteriaList, TextIteratorStreamer

        cancelled = threading.Event()

        class _Cancelled(StoppingCriteria):
            def __call__(self, input_ids, scores, **kwargs):
                return torch.full((input_ids.shape[0],), cancelled.is_set(), dtype=torch.bool)

        inputs = self._tokenizer.apply_chat_template(messages, add_generation_prompt=True,
                                                     return_tensors="pt", return_dict=True)
        streamer = TextIteratorStreamer(self._tokenizer, skip_prompt=True, skip_special_tokens=True)
        kwargs = dict(**inputs, max_new_tokens=max_tokens, streamer=streamer,
                      stopping_criteria=StoppingCriteriaList([_Cancelled()]))
        if temperature > 0:
            kwargs.update(do_sample=True, temperature=temperature)
        else:
            kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        if stop:
            kwargs.update(stop_strings=list(stop), tokenizer=self._tokenizer)
        worker = threading.Thread(target=self._model.generate, kwargs=kwargs, daemon=True)
        worker.start()
        try:
            yield from until_stop(streamer, stop)
        finally:
            cancelled.set()
            worker.join()


def until_stop(pieces: Iterator[str], stop: Sequence[str]) -> Iterator[str]:
    """The pieces up to (not including) the first stop sequence, as llama.cpp and OpenAI servers
    end them; transformers' ``stop_strings`` ends generation after the stop text and streams it.
    Text that may begin a stop sequence is held back until the next piece decides."""
    held = ""
    for piece in pieces:
        held += piece
        found = [i for i in (held.find(s) for s in stop if s) if i >= 0]
        if found:
            if min(found):
                yield held[:min(found)]
            return
        keep = max((n for s in stop for n in range(len(s) - 1, 0, -1) if held.endswith(s[:n])), default=0)
        if len(held) > keep:
            yield held[:len(held) - keep]
            held = held[len(held) - keep:]
    if held:
        yield held


class OpenAIBackend:
    def __init__(self, base_url: str, model: str, timeout_s: float) -> None:
        self._url = base_url.rstrip("/") + "/chat/completions"
        self._model = model
        self._timeout_s = timeout_s

    def stream(self, messages: list[Message], max_tokens: int, temperature: float,
               stop: Sequence[str]) -> Pieces:
        import requests

        payload = {"model": self._model, "messages": messages, "max_tokens": max_tokens,
                   "temperature": temperature, "seed": SEED, "stream": True}
        if stop:
            payload["stop"] = list(stop)
        try:
            # The read timeout covers a server that stalls before its first piece; between pieces the
            # caller's budget applies. Leaving the block closes the connection, which servers take
            # as a cancellation.
            with requests.post(self._url, json=payload, stream=True, timeout=(5, self._timeout_s)) as resp:
                resp.raise_for_status()
                for line in resp.iter_lines():
                    if not line.startswith(b"data:"):
                        continue
                    data = line[5:].strip()
                    if data == b"[DONE]":
                        return
                    choices = json.loads(data).get("choices") or [{}]
                    piece = (choices[0].get("delta") or {}).get("content")
                    if piece:
                        yield piece
        except requests.RequestException as exc:
            raise LLMError(f"LLM server at {self._url} failed: {type(exc).__name__}") from exc


def make_backend(settings: Settings) -> Backend:
    """The backend LLM_BACKEND names; loads the model, so call it once per process."""
    name = settings.llm_backend
    if name == "openai":
        if not settings.llm_base_url:
            raise LLMError("LLM_BACKEND=openai needs LLM_BASE_URL, e.g. http://localhost:8000/v1")
        model = settings.llm_model_path or "default"
        return OpenAIBackend(settings.llm_base_url, model, settings.llm_timeout_s)
    if settings.llm_model_path:
        path = Path(settings.llm_model_path)
    elif is_prepared(DEFAULT_MODEL, settings.var_dir):
        path = model_file(DEFAULT_MODEL, settings.var_dir)
    else:
        raise LLMError("no local model: run `python -m llm_fallback.llm.model prepare` or set LLM_MODEL_PATH")
    if not path.exists():
        raise LLMError(f"LLM_MODEL_PATH does not exist: {path}")
    log.info("loading %s model %s", name, path.name)
    if name == "llama_cpp":
        return LlamaCppBackend(path, settings.llm_ctx, settings.llm_threads)
    if name == "transformers":
        return TransformersBackend(path, settings.llm_threads)
    raise LLMError(f"unknown LLM_BACKEND {name!r}: use llama_cpp, transformers or openai")


def prepare_messages(prompt: Prompt) -> list[Message]:
    """The messages a backend is given: every content cleaned of chat-template control tokens.

    The one place this happens, for every caller (answers, FAQ generation, paraphrases) and every
    backend: llama.cpp and Hugging Face tokenizers both parse control-token text inside a message
    as the real token, so a question or a note containing `<|im_start|>system` would open a turn."""
    messages = [{"role": "user", "content": prompt}] if isinstance(prompt, str) else prompt
    return [{**m, "content": neutralise_control_tokens(m["content"])} for m in messages]


class LLM:
    """One backend per process, created on first use; generations run one at a time.

    At most `queue_max` requests wait behind the running one; more get `LLMBusy` at once, because a
    user waiting behind a long queue is better told to retry than left without a reply.
    """

    def __init__(self, factory: Callable[[], Backend], queue_max: int, timeout_s: float,
                 answer_tokens: int = 160) -> None:
        self._factory = factory
        self.answer_tokens = answer_tokens  # the budget of a grounded answer (LLM_MAX_TOKENS)
        self._queue_max = queue_max
        self._timeout_s = timeout_s
        self._backend: Backend | None = None
        self._run_lock = threading.Lock()  # llama.cpp contexts are not thread-safe
        self._load_lock = threading.Lock()  # counting tokens may load the model outside _run_lock
        self._count_lock = threading.Lock()
        self._in_flight = 0

    def _ensure_backend(self) -> Backend:
        with self._load_lock:
            if self._backend is None:
                self._backend = self._factory()
            return self._backend

    def overflow(self, prompt: Prompt, max_tokens: int) -> int:
        """Tokens by which the prompt plus `max_tokens` exceed the context window; 0 when it fits or
        the backend cannot count (a remote server then reports an overflow as an LLMError). Loads
        the model on first use; tokenising reads only the vocabulary, so it needs no run lock."""
        backend = self._ensure_backend()
        count = getattr(backend, "prompt_tokens", None)
        n_ctx = getattr(backend, "n_ctx", None)
        if count is None or not n_ctx:
            return 0
        return max(0, count(prepare_messages(prompt)) + max_tokens - n_ctx)

    def stream(self, prompt: Prompt, max_tokens: int, temperature: float = 0.0, stop: Sequence[str] = (),
               timeout_s: float | None = None) -> Iterator[str]:
        """Yield pieces; raises `LLMBusy` when the queue is full and `LLMTimeout` when the budget runs
        out (waiting in the queue counts; loading the model on first use does not: a transformers
        backend can take longer to load than any answer budget). Closing the iterator early stops the
        generation."""
        deadline = time.monotonic() + (self._timeout_s if timeout_s is None else timeout_s)
        with self._count_lock:
            if self._in_flight > self._queue_max:
                raise LLMBusy("the model queue is full")
            self._in_flight += 1
        try:
            if not self._run_lock.acquire(timeout=max(0.0, deadline - time.monotonic())):
                raise LLMTimeout("")
            try:
                yield from self._stream_locked(prompt, max_tokens, temperature, stop, deadline)
            finally:
                self._run_lock.release()
        finally:
            with self._count_lock:
                self._in_flight -= 1

    def _stream_locked(self, prompt: Prompt, max_tokens: int, temperature: float, stop: Sequence[str],
                       deadline: float) -> Iterator[str]:
        loading = time.monotonic()
        backend = self._ensure_backend()
        deadline += time.monotonic() - loading
        pieces = backend.stream(prepare_messages(prompt), max_tokens, temperature, stop)
        text = []
        try:
            for piece in pieces:
                if time.monotonic() > deadline:
                    raise LLMTimeout("".join(text))
                text.append(piece)
                yield piece
        finally:
            pieces.close()

    def generate(self, prompt: Prompt, max_tokens: int, temperature: float = 0.0, stop: Sequence[str] = (),
                 timeout_s: float | None = None) -> GenerationResult:
        """The whole generation with its timings; a timeout returns the partial text with timed_out."""
        start = time.monotonic()
        ttft = None
        pieces: list[str] = []
        timed_out = False
        try:
            for piece in self.stream(prompt, max_tokens, temperature, stop, timeout_s):
                if ttft is None:
                    ttft = time.monotonic() - start
                pieces.append(piece)
        except LLMTimeout:
            timed_out = True
        return GenerationResult("".join(pieces), len(pieces), ttft, time.monotonic() - start, timed_out)


def build_llm(settings: Settings) -> LLM:
    """A model service as `settings` configure it (the model loads lazily, on first use)."""
    return LLM(functools.partial(make_backend, settings), settings.llm_queue_max, settings.llm_timeout_s,
               settings.llm_max_tokens)


@functools.lru_cache(maxsize=1)
def get_llm() -> LLM:
    """The process-wide model service, built from the settings on first call."""
    return build_llm(load_settings())
