"""Markdown structure, line numbers and chunk boundaries; BM25 tokenization."""

from pathlib import Path

import pytest

from llm_fallback.knowledge.chunk import MAX_CHARS, chunk_note
from llm_fallback.knowledge.ingest import clean_heading, parse_blocks, read_notes
from llm_fallback.text.tokenize import tokenize

NOTE = """# 标题
intro line

## 部署
>引用第一行
>
>>嵌套引用
>>
>>```
>>code inside nested quote
>>
>>still code
>>```

| a | b |
| --- | --- |
| 1 | 2 |

- item one
  continued
- item two

### <font color=red>**检索**</font>
text under 检索
"""


def test_blocks_follow_structure_and_keep_line_numbers() -> None:
    blocks = parse_blocks(NOTE)
    kinds = [(b.kind, b.line_start, b.line_end) for b in blocks]
    assert kinds == [
        ("heading", 1, 1), ("paragraph", 2, 2), ("heading", 4, 4), ("paragraph", 5, 5), ("paragraph", 7, 7),
        ("code", 9, 13), ("table", 15, 17), ("list", 19, 20), ("list", 21, 21), ("heading", 23, 23),
        ("paragraph", 24, 24),
    ]
    code = blocks[5]
    assert code.text.splitlines()[1] == "code inside nested quote"  # quote markers stripped
    assert blocks[7].text == "- item one\n  continued"
    assert blocks[-1].heading_path == ("标题", "部署", "检索")
    assert blocks[4].heading_path == ("标题", "部署")


def test_heading_markup_is_cleaned() -> None:
    assert clean_heading("<font color=red>**文档召回**</font>") == "文档召回"
    assert clean_heading("[LLaMA-Factory](https://x.y)") == "LLaMA-Factory"


def test_html_comments_are_dropped_but_lines_kept() -> None:
    blocks = parse_blocks("<!--\n * @Author: x\n-->\n\n# T\nbody\n")
    assert [(b.kind, b.line_start) for b in blocks] == [("heading", 5), ("paragraph", 6)]


def test_readme_is_skipped_unless_asked(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("about", encoding="utf-8")
    (tmp_path / "a.md").write_text("note", encoding="utf-8")
    (tmp_path / "image.png").write_bytes(b"\x89PNG")
    assert [n.path for n in read_notes(tmp_path)] == ["a.md"]
    assert [n.path for n in read_notes(tmp_path, include_readme=True)] == ["README.md", "a.md"]
    with pytest.raises(FileNotFoundError):
        read_notes(tmp_path / "missing")


def _long_note() -> str:
    sentences = "".join(f"这是第{i}句话，用来测试按句子切分长段落。" for i in range(60))
    code = "\n".join(f"line {i} of a long code block that must stay whole" for i in range(30))
    rows = "\n".join(f"| row {i} | {'值' * 40} |" for i in range(30))
    return f"# 长文\n{sentences}\n\n```\n{code}\n```\n\n| k | v |\n| --- | --- |\n{rows}\n\n## 小节\n短内容\n"


def test_chunks_respect_size_sentences_code_and_table_rows() -> None:
    text = _long_note()
    lines = text.splitlines()
    chunks = chunk_note("long.md", text)
    code_chunks = [c for c in chunks if "line 0 of a long code block" in c.text]
    assert len(code_chunks) == 1 and "line 29 of a long code block" in code_chunks[0].text
    for chunk in chunks:
        if chunk is not code_chunks[0]:
            assert len(chunk.text) <= MAX_CHARS * 5 // 4
        for line in chunk.text.splitlines():
            if line.startswith("| row"):
                assert line in lines  # a table row is never cut
        prose = [s for s in chunk.text.split("。") if s.startswith("这是第")]
        assert all(s.endswith("段落") for s in prose)  # sentences are never cut
        source = "\n".join(lines[chunk.line_start - 1:chunk.line_end])
        assert chunk.text.splitlines()[0].strip() in source  # line range points at the text
    assert chunks[-1].heading_path == ("长文", "小节")
    assert chunks[-1].text.startswith("## 小节")  # the heading travels with its text


def test_a_paragraph_that_introduces_a_block_moves_on_with_it() -> None:
    # The notes' "目前主要有几类：" stood alone in a chunk, and its list, a code block too long to
    # join it, in the next: a list question found the intro and not the items.
    code = "\n".join(f"{i}.工具{i}: " + "说明" * 120 for i in range(1, 5))
    text = "## 部署\n前文。" + "铺垫。" * 100 + f"\n\n为了部署模型，目前主要有几类：\n\n```\n{code}\n```\n"
    chunks = chunk_note("t.md", text)
    holding = [c for c in chunks if "1.工具1" in c.text]
    assert len(holding) == 1 and "目前主要有几类：" in holding[0].text
    assert not any(c.text.rstrip().endswith("：") for c in chunks)


def test_small_sibling_sections_merge_and_hash_is_stable() -> None:
    text = "# 工具\n## A\n* 支持 cpu\n## B\n* 支持所有环境\n"
    (chunk,) = chunk_note("t.md", text)
    assert chunk.heading_path == ("工具",)
    assert (chunk.line_start, chunk.line_end) == (1, 5)
    assert chunk.content_hash == chunk_note("t.md", text)[0].content_hash
    assert chunk.content_hash != chunk_note("t.md", text.replace("cpu", "gpu"))[0].content_hash


def test_merged_sections_are_named_by_what_they_hold() -> None:
    # A parent with text of its own names its merged children.
    (chunk,) = chunk_note("t.md", "# 工具\n## A\n* 支持 cpu\n## B\n* 支持所有环境\n")
    assert chunk.heading_path == ("工具",)
    # A parent that is only a heading does not: the children with text in the chunk do.
    filler = "这一节很长。" * 60
    text = f"# 剪枝\n## 旧\n{filler}\n## 字段\n* id\n## 空\n## 数据湖\n* 支持 upsert\n"
    assert chunk_note("t.md", text)[-1].heading_path == ("剪枝", "字段 / 数据湖")
    # Nor does the first of several top-level sections.
    text = f"# 旧\n{filler}\n# 显卡\n* 7B 要 16G\n# 大图\n* 路线图\n"
    assert chunk_note("t.md", text)[-1].heading_path == ("显卡 / 大图",)


def test_tokenize_keeps_terms_whole_and_drops_stop_words() -> None:
    tokens = tokenize("What is top_p for Qwen2-7B? 余弦相似度适合什么场景？")
    assert "top_p" in tokens and "qwen2-7b" in tokens and "qwen2" in tokens
    assert "what" not in tokens and "什么" not in tokens and "？" not in tokens
    assert "余弦" in tokens and "相似" in tokens
    assert tokenize("Epochs LLMs") == ["epoch", "llm"]


def test_tokenize_keeps_a_word_jieba_does_not_know_together() -> None:
    # jieba cuts 年假 (annual leave) into 年 and 假; apart, each matches unrelated notes.
    assert tokenize("帮我请三天年假") == ["帮", "三天", "年假"]
    # A character standing alone, or beside a stop-word, stays itself.
    assert "秩" in tokenize("LoRA 的秩一般设多少")
