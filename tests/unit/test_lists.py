"""List questions: the model must name every item its passage lists, or the reply quotes the list."""

from __future__ import annotations

import pytest

from llm_fallback.answer.lists import (
    ItemList,
    best_list,
    introduced_items,
    is_list_question,
    item_lists,
    missing_items,
)
from llm_fallback.answer.prompt import best_sentences, terms

PROMPT_METHODS = """prompt 工程
- 思维链 Chain of Thought, CoT
- 思维树 Tree of Thought, ToT
- 思维图 Graph of Tree, GoT
- 累计推理
"""


def test_list_questions_in_both_languages() -> None:
    assert is_list_question("prompt 工程有哪些方法？")
    assert is_list_question("What are the steps of RAG?")
    assert not is_list_question("QLoRA 是怎么节省显存的？")
    assert not is_list_question("What is continuous batching?")


def test_list_questions_by_count_or_plural() -> None:
    assert is_list_question("剪枝分哪两种？")
    assert is_list_question("检索方案有哪四个要点？")
    assert is_list_question("Which model families does LLaMA-Factory support?")
    assert is_list_question("What two things must a RAG system get right?")
    assert is_list_question("Which vector databases do the notes list?")
    assert not is_list_question("What does the note say about it?")
    # A verb ending in s after which/what is no plural.
    assert not is_list_question("Which property lets PagedAttention share the KV cache?")
    assert not is_list_question("What happens when length_penalty is above 1.0?")


NESTED = """模型微调
- PEFT:参数高效微调
  - 增加额外参数
  - 选取一部分参数更新
- DPOTrainer:Direct Preference Optimization
  - 标注好的偏好数据是一个有以下 3 个键的字典：
  - prompt:推理时输入给模型的提示
  - chosen:较优回答
  - rejected:较劣回答
- PPO:Proximal Policy Optimization
"""


def test_items_nested_under_an_item_are_a_list_introduced_by_it() -> None:
    lists = item_lists(NESTED)
    assert [found.intro for found in lists] == [
        "模型微调", "PEFT:参数高效微调", "DPOTrainer:Direct Preference Optimization"]
    assert lists[0].heads == ["PEFT", "DPOTrainer", "PPO"]
    assert lists[2].heads[1:] == ["prompt", "chosen", "rejected"]

    def shared(text: str) -> int:
        return len({"DPOTrainer", "prompt", "chosen"} & set(text.replace(":", " ").split()))

    assert best_list(NESTED, shared) == lists[2]


METHODS = item_lists(PROMPT_METHODS)[0]

# Two lists in one passage, the second written the notes' way: "1.item" with no space.
TWO_LISTS = """部署 Embedding 模型需要引入工具库，目前主要有几类：
1.SentenceTransformers
2.FlagEmbedding
3.Langchain集成的HuggingFaceBgeEmbeddings
1.5B 的模型不是列表项。
向量库可以选：
- postgresql+pgvector
- Milvus
"""


def test_items_are_named_by_their_heads() -> None:
    assert METHODS.intro == "prompt 工程"
    assert METHODS.heads == [
        "思维链 Chain of Thought", "思维树 Tree of Thought", "思维图 Graph of Tree", "累计推理"]
    assert item_lists("no list here\njust text") == []


def test_each_list_keeps_its_own_intro_and_items() -> None:
    tools, stores = item_lists(TWO_LISTS)
    assert tools.intro.startswith("部署 Embedding") and tools.heads == [
        "SentenceTransformers", "FlagEmbedding", "Langchain集成的HuggingFaceBgeEmbeddings"]
    assert stores.intro == "向量库可以选：" and stores.heads == ["postgresql+pgvector", "Milvus"]


def test_the_list_the_question_asks_about_is_chosen() -> None:
    words = {"向量库", "可以"}
    chosen = best_list(TWO_LISTS, lambda text: sum(word in text for word in words))
    assert chosen is not None and chosen.heads == ["postgresql+pgvector", "Milvus"]
    assert best_list("no list", len) is None


def test_the_intro_names_the_list() -> None:
    pros_and_cons = "优点：\n- 相近语义理解\n- 跨多语言理解\n缺点：\n- 依赖模型训练效果\n- 精度不稳定\n"
    words = {"语义", "缺点"}
    chosen = best_list(pros_and_cons, lambda text: sum(word in text for word in words))
    assert chosen is not None and chosen.intro == "缺点："


def test_a_list_sharing_nothing_with_the_question_is_not_its_answer() -> None:
    methods = "###### 推理方法\n1.贪婪搜索\n2.Beam Search\n###### 理解Attention\nMHA 到 MQA 到 GQA\n"
    words = {"attention", "MHA"}
    assert best_list(methods, lambda text: sum(word in text for word in words)) is None


def test_the_lines_before_a_list_tell_what_it_belongs_to() -> None:
    prompts = ("##### 有趣的提示词\n凝固汽油弹怎么制作\n我想让你充当广告商。\n提示词模版:\n"
               "您将创建一个活动来推广您选择的产品或服务。\n- 您将选择目标受众，\n- 制定关键信息和口号，\n")
    (found,) = item_lists(prompts)
    assert found.intro.startswith("您将创建") and found.context == "我想让你充当广告商。 提示词模版:"
    words = {"广告商", "模板"}
    assert best_list(prompts, lambda text: sum(word in text for word in words)) == found
    # A heading closes what came before it: a list right under one has only its heading.
    (after_heading,) = item_lists("上一节的结论。\n## 常用模型\n- Stable Code 3B\n- FunAsr\n")
    assert after_heading.intro == "常用模型" and after_heading.context == ""


def test_an_answer_naming_one_item_misses_the_rest() -> None:
    assert missing_items("常用思维链（CoT）。", METHODS, "zh") == [
        "思维树 Tree of Thought", "思维图 Graph of Tree", "累计推理"]
    complete = "有思维链、思维树、思维图和累计推理。"
    assert missing_items(complete, METHODS, "zh") == []


def test_an_english_answer_is_checked_on_the_items_it_can_name() -> None:
    # "累计推理" has no English name in the notes: an English answer translates it, unverifiable.
    assert missing_items("Chain of Thought, Tree of Thought and Graph of Tree.", METHODS, "en") == []
    assert missing_items("Chain of Thought.", METHODS, "en") == [
        "思维树 Tree of Thought", "思维图 Graph of Tree"]


def test_quote_keeps_the_intro_and_every_item_within_budget() -> None:
    assert METHODS.quote(500).splitlines() == [
        "prompt 工程", "- 思维链 Chain of Thought, CoT", "- 思维树 Tree of Thought, ToT",
        "- 思维图 Graph of Tree, GoT", "- 累计推理"]


def test_a_long_list_is_quoted_with_every_item_cut_rather_than_its_last_items_dropped() -> None:
    explained = (f"工具{i}: " + "它的说明很长。" * 10 * i for i in (2, 3, 4))
    long_items = ItemList("目前主要有几类：", ("工具1: 短。", *explained))
    quote = long_items.quote(300).splitlines()
    assert quote[0] == "目前主要有几类："
    assert [line.split(":")[0] for line in quote[1:]] == ["- 工具1", "- 工具2", "- 工具3", "- 工具4"]
    assert len("\n".join(quote)) <= 300
    # A short item stays whole; the long ones share the rest of the room equally.
    assert quote[1] == "- 工具1: 短。"
    assert len({len(line) for line in quote[2:]}) == 1 and quote[2].endswith("…")
    # With too little room for any explanation, each item still keeps its head.
    assert [line.rstrip("…") for line in long_items.quote(20).splitlines()[1:]] == [
        "- 工具1", "- 工具2", "- 工具3", "- 工具4"]
    assert METHODS.quote(40).splitlines()[1:] == [
        "- 思维链 Chain of Thought…", "- 思维树 Tree of Thought…", "- 思维图 Graph of Tree…", "- 累计推理"]


def test_the_models_not_in_notes_marker_is_read_however_spelled() -> None:
    from llm_fallback.answer.pipeline import says_not_in_notes

    assert says_not_in_notes("NOT IN NOTES") and says_not_in_notes("not_in_notes.")
    assert says_not_in_notes("抱歉，NOT  IN NOTES")
    assert not says_not_in_notes("The notes say QLoRA uses 4-bit NormalFloat.")


@pytest.mark.parametrize(("question", "answer", "restates"), [
    ("RAGFlow 默认用的是哪个 embedding 模型？", "RAGFlow 默认用的是 embedding 模型。", True),
    ("GRPO 训练时每个 prompt 采样几条回答？", "GRPO 训练时每个 prompt 采样几条回答？", True),
    ("Which latency metric matters most for offline batch inference?",
     "Latency matters most for offline batch inference.", True),
    # Picking one of the question's options drops the others' names: an answer.
    ("Of GPTQ, AWQ and GGUF, which one is mainly for GPT-style models?",
     "GGUF is mainly for GPT-style models.", False),
    ("For long-context batch inference on one GPU, is vLLM or TGI faster?",
     "For long-context batch inference on one GPU, vLLM is faster.", False),
    ("“我要预订纽约的机票”这句话里实体是哪个？", "纽约", False),
    # "Yes" and "no" answer a yes/no question, though they are stop-words.
    ("Ollama 支持 Windows 吗？", "是的，Ollama 支持 Windows。", False),
    ("Does Ollama support Windows?", "No, Ollama does not support Windows.", False),
    ("RAGFlow 默认用的是哪个 embedding 模型？", "RAGFlow 默认用的是 BGE embedding 模型。", False),
])
def test_an_answer_that_only_restates_its_question_is_caught(question: str, answer: str,
                                                             restates: bool) -> None:
    from llm_fallback.answer.pipeline import restates_the_question

    assert restates_the_question(question, answer) is restates


@pytest.mark.parametrize(("question", "answer", "heading", "only_titles"), [
    ("笔记里数据湖有哪些特点？", "数据湖的介绍", "剪枝 > paimon 教程 / 数据湖的介绍", True),
    ("What does the vLLM section cover?", "vLLM 推理加速", "工具 > vLLM（推理加速-gpu推荐）", True),
    # A word the titles lack is something the passage says.
    ("笔记里数据湖有哪些特点？", "数据湖支持 upsert 和事务。", "数据湖的介绍", False),
    # An option of the question that is also a title is an answer, not a title.
    ("GPTQ, AWQ or GGUF: which is for CPUs?", "GGUF.", "量化 > GGUF", False),
])
def test_an_answer_that_only_names_its_passages_sections_is_caught(question: str, answer: str, heading: str,
                                                                   only_titles: bool) -> None:
    from llm_fallback.answer.pipeline import only_names_its_sections
    from llm_fallback.answer.prompt import Passage
    from llm_fallback.knowledge.retrieve import Hit

    passage = Passage(Hit("notes.md", heading, 1, 9, "…", 0.03, 0.9, True), "…")
    assert only_names_its_sections(question, answer, [passage]) is only_titles


def test_an_answer_that_loops_is_caught() -> None:
    from llm_fallback.answer.pipeline import repeats_itself

    looping = "1. 暴搜\n2. 二分查找\n3. 二分查找\n4. 二分查找"
    assert repeats_itself(looping)
    assert not repeats_itself("1. K-Means 聚类\n2. Hash 分桶\n3. 暴搜")


def test_a_list_question_sees_the_passages_without_their_section_titles() -> None:
    from llm_fallback.answer.prompt import Passage, build_messages
    from llm_fallback.knowledge.retrieve import Hit

    hit = Hit("llm-note.md", "RASA > 提示词工程", 1, 5, PROMPT_METHODS, 0.03, 0.9, True)
    passages = [Passage(hit, PROMPT_METHODS)]
    assert "(提示词工程)" not in build_messages("prompt 工程有哪些方法？", passages, "zh")[1]["content"]
    assert "(提示词工程)" in build_messages("思维链是什么？", passages, "zh")[1]["content"]


DPO_KEYS = """- QLoRA：低秩适应
- DPOTrainer:Direct Preference Optimization
  - 标注好的偏好数据需遵循特定的格式，是一个还有以下 3 个键的字典：
  - prompt:推理时输入给模型的提示
  - chosen:针对给定提示的较优回答
  - rejected:针对给定提示的较劣回答或非给定提示的回答
- PPO:Proximal Policy Optimization
"""


def test_a_sentence_ending_in_a_colon_introduces_the_items_after_it_up_to_an_outer_item() -> None:
    found, items_of = introduced_items(DPO_KEYS)
    intro = next(i for i, s in enumerate(found) if s.endswith("字典："))
    assert [found[i].split(":")[0] for i in items_of[intro]] == ["prompt", "chosen", "rejected"]
    assert len(items_of) == 1


def test_a_colon_before_a_paragraph_introduces_nothing() -> None:
    _, items_of = introduced_items("常见原因如下：\n显存不够时会报错。\n\n- 一项\n")
    assert items_of == {}


def test_trimming_keeps_an_introduced_list_whole() -> None:
    # The intro and the RLHF lines share terms with the question, the keys nothing: trimmed one
    # sentence at a time, the last key was dropped and the model named a neighbour instead.
    text = ("- RLHF:\n  - 基于偏好数据训练奖励模型再做 RL 优化\n"
            "  - DPO 直接根据标注好的偏好数据优化 DPO 目标，省去奖励建模\n" + DPO_KEYS)
    trimmed = best_sentences(text, terms("DPO 的偏好数据要什么格式？"), budget=180)
    assert all(key in trimmed for key in ("prompt:", "chosen:", "rejected:"))


def test_a_heading_introduces_the_items_under_it() -> None:
    found, items_of = introduced_items("## 向量库选择\n\n* milvus\n* redis-stack\n\n## 成功要求\n文字\n")
    assert [found[i] for i in items_of[0]] == ["milvus", "redis-stack"]


def test_a_line_the_items_follow_directly_introduces_them_also_in_a_quote() -> None:
    text = ">```\n>>采用不同的分块方式\n>>1.基本的字符数分割\n>>2.语义分割\n>```\n\n下一段\n\n- 另一项\n"
    found, items_of = introduced_items(text)
    assert {found[k]: [found[i] for i in v] for k, v in items_of.items()} == {
        "采用不同的分块方式": ["1.基本的字符数分割", "2.语义分割"]}


def test_an_item_that_ends_in_a_colon_stays_its_intros_item() -> None:
    found, items_of = introduced_items("优点：\n- 速度快：\n- 省显存\n")
    assert [found[i] for i in items_of[0]] == ["速度快：", "省显存"]
