"""Tokens for BM25: jieba for Chinese, whole technical terms for the English runs between.

ASCII runs are taken before jieba sees the text, so ``top_p``, ``Qwen2-7B``, ``llama.cpp`` and
``1e-4`` stay whole; their parts (``qwen2``, ``7b``) are added too, so a query for ``Qwen2`` still
matches ``Qwen2-7B``. Chinese runs go through jieba's search mode, which emits the long words and
the shorter words inside them (余弦相似度 -> 余弦, 相似, 相似度, 余弦相似度); single characters it
leaves side by side are joined back into the word it did not know (年假, not 年 + 假). Everything is
lower-cased; punctuation and stop-words are dropped. The domain dictionary shared with Rasa's
JiebaTokenizer (``data/dict/userdict.txt``) is loaded when it exists.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import jieba

from llm_fallback.text.lang import CJK

_ASCII_TERM = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9_+#]|[.\-/](?=[A-Za-z0-9]))*")
_PART_SPLIT = re.compile(r"[._\-/]")

# Function words of questions and prose in both languages; they match everywhere and rank nothing.
_STOP_WORDS_TEXT = """
    a an and are as at be been but by can could do does did for from had has have how i if in into is
    it its me my no not of on or our should so than that the their them then there these they this
    to us was we were what when where which who whom why will with would you your about please tell
    much many usually also any some each other here just only more most very get got want like mean
    means does doing done used using way ways thing things
    的 了 是 在 和 与 及 或 也 都 就 而 并 很 还 又 被 把 让 给 对 从 向 以 为 于 之 其 这 那 这个 那个
    这些 那些 一个 一些 什么 怎么 怎么样 怎样 如何 为什么 哪 哪个 哪些 哪里 多少 几 吗 呢 吧 啊 呀 么
    我 你 他 她 它 我们 你们 他们 请问 请 可以 能 能否 应该 需要 要 会 有 没有 是否 一下 下 时 中 上
"""
STOP_WORDS = frozenset(_STOP_WORDS_TEXT.split())

# English <-> Chinese pairs of the field's common terms ("english phrase|中文,中文" per line). The
# notes are Chinese and many questions are English (or the reverse): BM25 cannot bridge that, and
# the multilingual embedder does it poorly, so a question also gets the other language's terms.
_GLOSSARY_TEXT = """
fine-tuning, fine tuning, finetuning, fine-tune, finetune|微调
quantization, quantize, quantized|量化
inference|推理
training, train|训练
dataset, data set|数据集
gpu memory, vram, video memory|显存
memory|内存,显存
recommend, recommended, recommendation|推荐
framework|框架
deploy, deployment|部署
parameter, parameters|参数
learning rate|学习率
overfitting, overfit|过拟合
embedding, embeddings|嵌入,向量
vector, vectors|向量
vector database, vector store|向量库,向量数据库
retrieval, retrieve|检索
search|搜索,检索
hybrid|混合
similarity|相似度
cosine|余弦
euclidean|欧氏距离
prompt, prompts|提示词
agent, agents|智能体
evaluation, evaluate|评估
metric, metrics|指标
reward model|奖励模型
reinforcement learning|强化学习
knowledge base|知识库
chunk, chunking|分块
rerank, reranking|重排
latency|延迟
throughput|吞吐量
batching, batch|批处理
continuous|持续
dynamic|动态
static|静态
precision|精度
loss|损失
performance|性能
attention|注意力
decoder|解码器
encoder|编码器
sampling, sample|采样
penalty|惩罚
repetition|重复
diversity|多样性
summary, summarization|摘要
translation|翻译
architecture|架构
drawback, disadvantage, downside, weakness|缺点
advantage, benefit|优点
port|端口
default|默认
install, installation|安装
download|下载
server|服务器
gradient|梯度
gradient descent|梯度下降
optimizer|优化器
weight decay|权重衰减
warmup|预热
low-rank, low rank|低秩
distillation|蒸馏
pruning|剪枝
mixed precision|混合精度
tracing, trace|追踪
monitor, monitoring|监控
platform|平台
multimodal|多模态
speech|语音
image, images|图像,图片
video|视频
hallucination|幻觉
lossless, no loss|无损
web ui, webui|webui
step, steps|步骤
scenario, use case|场景
context|上下文
long context|长文本
temperature|温度
token, tokens|token
layer, layers|层
save, saving|节省
reduce|减少
cost|成本
speed, fast|速度,加速
mixture of experts|混合专家
generation, generate|生成
question answering|问答
pre-training, pretraining|预训练
"""


@cache
def _glossary() -> list[tuple[re.Pattern[str], str, str]]:
    """(pattern of one side, that side, the other side) for both directions of every pair."""
    entries = []
    for line in _GLOSSARY_TEXT.strip().splitlines():
        english, chinese = line.split("|")
        en_terms = [t.strip() for t in english.split(",")]
        zh_terms = chinese.split(",")
        for term in en_terms:
            pattern = re.compile(rf"(?<![A-Za-z]){re.escape(term)}(?![A-Za-z])", re.IGNORECASE)
            entries.append((pattern, term, " ".join(zh_terms)))
        for term in zh_terms:
            entries.append((re.compile(re.escape(term)), term, en_terms[0]))
    return entries


def translate_terms(question: str) -> str:
    """The other language's glossary terms for what ``question`` mentions (space separated)."""
    return " ".join(other for pattern, _, other in _glossary() if pattern.search(question))


@cache
def _jieba(userdict: str) -> jieba.Tokenizer:
    """A private jieba instance (the global one belongs to whoever else uses jieba in-process)."""
    tokenizer = jieba.Tokenizer()
    if userdict and Path(userdict).is_file():
        tokenizer.load_userdict(userdict)
    return tokenizer


def _keep(token: str) -> bool:
    return token not in STOP_WORDS and (len(token) > 1 or bool(CJK.match(token)) or token.isdigit())


def tokenize(text: str, userdict: Path | None = None) -> list[str]:
    """BM25 tokens of ``text`` (order kept, duplicates kept: BM25 counts them)."""
    segmenter = _jieba(str(userdict or ""))
    tokens: list[str] = []
    cursor = 0
    for match in _ASCII_TERM.finditer(text):
        tokens.extend(_chinese_tokens(segmenter, text[cursor:match.start()]))
        term = match.group(0).lower()
        if term in STOP_WORDS:
            continue
        term = _stem(term)
        tokens.append(term)
        parts = [part for part in _PART_SPLIT.split(term) if part]
        if len(parts) > 1:
            tokens.extend(parts)
        cursor = match.end()
    tokens.extend(_chinese_tokens(segmenter, text[cursor:]))
    return [token for token in tokens if _keep(token)]


def _stem(term: str) -> str:
    """English plural to singular (epochs -> epoch), so question and note forms meet."""
    if not term.isalpha() or len(term) <= 3:
        return term
    if term.endswith(("ches", "shes", "sses", "xes")):
        return term[:-2]
    if term.endswith("s") and not term.endswith(("ss", "us", "is")):
        return term[:-1]
    return term


def _chinese_tokens(segmenter: jieba.Tokenizer, text: str) -> list[str]:
    if not CJK.search(text):
        return []
    tokens: list[str] = []
    run_end = -1  # where the last kept single character ended
    for token, start, end in segmenter.tokenize(text, mode="search"):
        if not CJK.match(token):
            continue
        if len(token) == 1 and token not in STOP_WORDS:
            # Characters jieba left alone side by side are mostly one word it does not know
            # (年假 -> 年, 假): alone, each matches unrelated passages.
            if start == run_end:
                tokens[-1] += token
            else:
                tokens.append(token)
            run_end = end
            continue
        tokens.append(token)
    return tokens
