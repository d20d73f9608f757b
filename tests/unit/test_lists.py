"""List questions: the model must name every item its passage lists, or the reply quotes the list."""

from __future__ import annotations

from llm_fallback.answer.lists import is_list_question, list_items, missing_items, quote_list

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


def test_items_are_named_by_their_heads() -> None:
    assert list_items(PROMPT_METHODS) == [
        "思维链 Chain of Thought", "思维树 Tree of Thought", "思维图 Graph of Tree", "累计推理"]
    assert list_items("no list here\njust text") == []


def test_an_answer_naming_one_item_misses_the_rest() -> None:
    assert missing_items("常用思维链（CoT）。", PROMPT_METHODS, "zh") == [
        "思维树 Tree of Thought", "思维图 Graph of Tree", "累计推理"]
    complete = "有思维链、思维树、思维图和累计推理。"
    assert missing_items(complete, PROMPT_METHODS, "zh") == []


def test_an_english_answer_is_checked_on_the_items_it_can_name() -> None:
    # "累计推理" has no English name in the notes: an English answer translates it, unverifiable.
    assert missing_items("Chain of Thought, Tree of Thought and Graph of Tree.", PROMPT_METHODS, "en") == []
    assert missing_items("Chain of Thought.", PROMPT_METHODS, "en") == [
        "思维树 Tree of Thought", "思维图 Graph of Tree"]


def test_quote_keeps_every_item_within_budget() -> None:
    assert quote_list(PROMPT_METHODS, 500).splitlines() == [
        "- 思维链 Chain of Thought, CoT", "- 思维树 Tree of Thought, ToT", "- 思维图 Graph of Tree, GoT",
        "- 累计推理"]
    assert len(quote_list(PROMPT_METHODS, 40)) <= 60


def test_the_models_not_in_notes_marker_is_read_however_spelled() -> None:
    from llm_fallback.answer.pipeline import says_not_in_notes

    assert says_not_in_notes("NOT IN NOTES") and says_not_in_notes("not_in_notes.")
    assert says_not_in_notes("抱歉，NOT  IN NOTES")
    assert not says_not_in_notes("The notes say QLoRA uses 4-bit NormalFloat.")
