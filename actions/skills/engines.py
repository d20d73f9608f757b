# ruff: noqa: E501  (answer texts: Chinese prose counts double width; splitting it mid-phrase hurts reading)
"""Which inference engine for the hardware and the goal (llm-basic-concepts.md, llm-note.md)."""

from __future__ import annotations

from dataclasses import dataclass

from actions.skills.common import Lang, Source, sources_line

_TOOLS = "常用模型及工具记录"
OLLAMA = Source("llm-basic-concepts.md", (_TOOLS, "Ollama【推荐】（支持cpu）"))
LLAMA_CPP = Source("llm-basic-concepts.md", (_TOOLS, "llama.cpp（支持cpu）"))
VLLM = Source("llm-basic-concepts.md", (_TOOLS, "vLLM（推理加速-gpu推荐）"))
RTP_LLM = Source("llm-basic-concepts.md", (_TOOLS, "RTP-LLM（gpu推理加速-推荐）"))
FASTCHAT = Source("llm-basic-concepts.md", (_TOOLS, "FastChat（主部署、加速-目前不太推荐）"))
FRAMEWORKS = Source("llm-note.md", ("大模型LLM", "模型部署推理", "大模型常见推理框架"))

HARDWARE = ("cpu", "single_gpu", "multi_gpu")
GOALS = ("throughput", "simple")


@dataclass(frozen=True)
class Choice:
    engine: str
    why_zh: str
    why_en: str
    alternatives_zh: str
    alternatives_en: str
    sources: tuple[Source, ...]


_TABLE: dict[tuple[str, str], Choice] = {
    ("cpu", "simple"): Choice(
        "Ollama",
        "笔记推荐 Ollama：支持 CPU、支持所有环境，专门为本地化运行大模型设计，上手最省事。",
        "The notes recommend Ollama: it runs on CPU and in every environment and is built for running models "
        "locally, the least effort to start.",
        "想自己控制量化和转换就用 llama.cpp（纯 C/C++，支持 CPU，先转 GGUF 再量化）。",
        "For control over conversion and quantization use llama.cpp (pure C/C++, runs on CPU; convert to "
        "GGUF, then quantize).",
        (OLLAMA, LLAMA_CPP),
    ),
    ("cpu", "throughput"): Choice(
        "llama.cpp",
        "llama.cpp 是纯 C/C++ 实现、支持 CPU 的推理工具，先转换为 GGUF 再量化，量化后的模型在 CPU 上最快。"
        "vLLM、RTP-LLM、TensorRT-LLM 都面向 GPU，CPU 上不适用。",
        "llama.cpp is a pure C/C++ inference tool that runs on CPU: convert to GGUF, then quantize; quantized "
        "models run fastest on CPU. vLLM, RTP-LLM and TensorRT-LLM target GPUs and do not fit a CPU.",
        "要更省事用 Ollama（同样支持 CPU）。",
        "For less effort use Ollama (also runs on CPU).",
        (LLAMA_CPP, OLLAMA),
    ),
    ("single_gpu", "simple"): Choice(
        "Ollama",
        "单卡、图省事：Ollama 支持所有环境、本地一条命令就能跑。",
        "One GPU, least effort: Ollama runs in every environment with one command.",
        "要并发吞吐就换 vLLM（gpu 推荐）：PagedAttention + 连续批处理，吞吐量可达静态 batch 的数十倍，但单 batch "
        "效果不明显且会预先分配大量显存。",
        "For concurrent throughput switch to vLLM (the notes' GPU pick): PagedAttention and continuous "
        "batching give up to tens of times the throughput of static batching, but little gain for a single "
        "request, and it pre-allocates much GPU memory.",
        (OLLAMA, VLLM),
    ),
    ("single_gpu", "throughput"): Choice(
        "vLLM",
        "vLLM 是笔记的 GPU 推理加速推荐：PagedAttention + Rolling Batch，相比静态 batch 吞吐量高达数十倍，支持 "
        "llama、qwen、baichuan 等常见模型；注意单 batch 效果不明显，且会预先分配大量显存。",
        "vLLM is the notes' GPU pick for fast serving: PagedAttention and rolling (continuous) batching give up "
        "to tens of times the throughput of static batching for common models (llama, qwen, baichuan); a "
        "single request gains little, and it pre-allocates much GPU memory.",
        "同样推荐 RTP-LLM（阿里的 GPU 推理加速引擎，docker 部署）；TensorRT-LLM 针对 NVIDIA GPU 做模型转换"
        "（build 出 plan 文件再部署），性能好但流程更重。",
        "RTP-LLM (Alibaba's GPU inference engine, deployed with docker) is also recommended; TensorRT-LLM "
        "compiles the model for one NVIDIA GPU type (build a plan file, then deploy): fast but more work.",
        (VLLM, RTP_LLM, FRAMEWORKS),
    ),
    ("multi_gpu", "throughput"): Choice(
        "vLLM",
        "多卡高吞吐用 vLLM：用 tensor_parallel_size 指定 GPU 数做张量并行，多机可用 ray 组成集群；"
        "PagedAttention + Rolling Batch 带来数十倍于静态 batch 的吞吐。",
        "Several GPUs and high throughput: vLLM with tensor_parallel_size set to the number of GPUs (ray for "
        "several machines); PagedAttention and rolling batching give tens of times the throughput of static "
        "batching.",
        "也可用 RTP-LLM（gpu 推理加速-推荐）或 TensorRT-LLM（NVIDIA GPU，先 build 再部署）；FastChat 可整合 vLLM "
        "多卡部署（--num-gpus），但笔记目前不太推荐。",
        "RTP-LLM (recommended for GPUs) or TensorRT-LLM (NVIDIA GPUs, build then deploy); "
        "FastChat can run vLLM workers on several GPUs (--num-gpus) but the notes no longer recommend it much.",
        (VLLM, RTP_LLM, FASTCHAT, FRAMEWORKS),
    ),
    ("multi_gpu", "simple"): Choice(
        "vLLM",
        "多卡也以 vLLM 最省事：一个参数 tensor_parallel_size 即可多卡，并直接提供 OpenAI 兼容的 API 服务。",
        "With several GPUs vLLM is still the simplest: one setting, tensor_parallel_size, spreads the model "
        "over the GPUs, and it serves an OpenAI-compatible API directly.",
        "FastChat 也能多卡（--num-gpus，可整合 vLLM，带 Web UI 和 OpenAI API Server），但笔记目前不太推荐。",
        "FastChat also runs on several GPUs (--num-gpus, can use vLLM, has a web UI and an OpenAI API "
        "server), but the notes no longer recommend it much.",
        (VLLM, FASTCHAT),
    ),
}


def choose(hardware: str, goal: str) -> Choice:
    if hardware not in HARDWARE:
        raise ValueError(f"unknown hardware {hardware!r}; expected one of {HARDWARE}")
    if goal not in GOALS:
        raise ValueError(f"unknown goal {goal!r}; expected one of {GOALS}")
    return _TABLE[(hardware, goal)]


_HW = {
    "zh": {"cpu": "只有 CPU", "single_gpu": "单张 GPU", "multi_gpu": "多张 GPU"},
    "en": {"cpu": "CPU only", "single_gpu": "one GPU", "multi_gpu": "several GPUs"},
}
_GOAL = {
    "zh": {"throughput": "追求吞吐/性能", "simple": "追求简单易用"},
    "en": {"throughput": "throughput first", "simple": "simplicity first"},
}


def render(hardware: str, goal: str, lang: Lang) -> str:
    c = choose(hardware, goal)
    if lang == "zh":
        lines = [
            f"{_HW[lang][hardware]}、{_GOAL[lang][goal]}：推荐 {c.engine}。",
            c.why_zh,
            f"其他选择：{c.alternatives_zh}",
            "这是笔记中的经验选择，实际还要看模型是否被引擎支持、显存和部署环境。",
        ]
    else:
        lines = [
            f"{_HW[lang][hardware]}, {_GOAL[lang][goal]}: use {c.engine}.",
            c.why_en,
            f"Alternatives: {c.alternatives_en}",
            "A rule of thumb from the notes: check that the engine supports your model, memory and environment.",
        ]
    return "\n".join([*lines, sources_line(c.sources, lang)])
