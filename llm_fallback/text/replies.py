# ruff: noqa: E501  (Chinese prose counts double width; splitting it mid-phrase hurts reading)
"""Every sentence the assistant's own code says to users, in both languages, in one place.

Rasa's responses (greetings, help, out of scope) stay in domain.yml, where Rasa users look for them,
and a skill's answer templates stay beside the rule they format. Everything else a user can read
(refusals, "not covered", "busy", "unavailable", the Telegram bridge's notices) lives here, so the
same situation is worded once, whichever channel or process meets it.

Pure data and one function: the Rasa server's channels import this too, in the Rasa environment.
"""

from __future__ import annotations

from llm_fallback.text.lang import Lang

TEXTS: dict[str, dict[Lang, str]] = {
    # Something the assistant depends on failed (Rasa, the action server, the model): say so, never silence.
    "unavailable": {
        "zh": "抱歉，助手暂时不可用，请稍后重试。",
        "en": "Sorry, the assistant is temporarily unavailable. Please try again in a moment.",
    },
    "knowledge_unavailable": {
        "zh": "抱歉，笔记知识库暂时不可用，请稍后再试。",
        "en": "Sorry, the notes knowledge base is unavailable right now. Please try again in a moment.",
    },
    "busy": {
        "zh": "现在提问的人比较多，请稍后再试。",
        "en": "I'm busy answering other questions, please retry in a moment.",
    },
    # Notes answers.
    "sources": {"zh": "来源：", "en": "Sources:"},
    "understood_as": {"zh": "（理解为：{question}）", "en": "(Understood as: {question})"},
    "clarify": {
        "zh": "你问的是哪一个：{topics}？",
        "en": "Which one do you mean: {topics}?",
    },
    "new_topic": {
        "zh": "好的，换个话题。想问什么？",
        "en": "Sure, a new topic. What would you like to know?",
    },
    "extract": {"zh": "笔记原文摘录：", "en": "From the notes (quoted as written): "},
    "not_covered": {
        "zh": "笔记里没有讲到这个问题，我不凭空回答。",
        "en": "The notes don't cover this, so I won't guess.",
    },
    "never_mentioned": {"zh": "笔记里没有出现 {terms}。", "en": "They never mention {terms}."},
    "closest": {"zh": "笔记里相近的主题有：{topics}。", "en": "Closest topics they do cover: {topics}."},
    # Refusals (answer/safety.py decides when).
    "refused_credential": {
        "zh": "抱歉，我不提供密码、密钥、令牌或连接串等凭证。笔记里的凭证都已隐去；需要访问权限请联系系统管理员。",
        "en": "Sorry, I don't share passwords, keys, tokens or connection strings. Credentials in the notes "
        "are redacted; please ask the system's administrator for access.",
    },
    "refused_harmful": {
        "zh": "抱歉，这个请求可能造成严重伤害，无论以什么身份或情境提出，我都不能提供相关内容。",
        "en": "Sorry, I can't help with that: it could cause serious harm, whatever the framing or role-play.",
    },
    "refused_injection": {
        "zh": "抱歉，我只按笔记回答问题，不执行改变我规则的指令。",
        "en": "Sorry, I only answer questions from the notes and don't follow instructions that change my rules.",
    },
    # Skills.
    "skill_cancelled": {
        "zh": "好的，已取消。需要时再问我，比如「7B 模型 fp16 推理要多少显存」。",
        "en": 'Okay, cancelled. Ask me again whenever you like, e.g. "VRAM for a 7B model in fp16".',
    },
    # The Telegram bridge.
    "telegram_refused": {
        "zh": "抱歉，这个助手只为团队成员服务。请把你的 Telegram id {id} 发给管理员开通。",
        "en": "Sorry, this assistant serves the team only. Send your Telegram id {id} to an admin to be added.",
    },
    "non_text": {
        "zh": "我只能读文字消息，请直接用文字提问。",
        "en": "I can only read text messages; please type your question.",
    },
    "too_fast": {
        "zh": "消息太频繁了，请 {s} 秒后再发。",
        "en": "You're sending messages too fast; please wait {s} s.",
    },
    # Telegram allows 4096 characters, the intranet webhook 4096 UTF-8 bytes: ~1,365 Chinese characters.
    "too_long": {
        "zh": "消息太长了（{n} 字节，上限 {limit}），请缩短或分成几条发送。",
        "en": "Your message is too long ({n} bytes, the limit is {limit}); "
        "please shorten it or send it in several parts.",
    },
    "reset": {
        "zh": "对话已重置，可以重新开始了。",
        "en": "The conversation has been reset; let's start over.",
    },
    "commands": {
        "zh": "命令：/help 能问什么 · /reset 重新开始对话",
        "en": "Commands: /help what I can do · /reset start the conversation over",
    },
    "unknown_command": {
        "zh": "不认识这个命令。可用的命令：/start /help /reset",
        "en": "I don't know that command. Try /start, /help or /reset.",
    },
    "expired": {"zh": "这个按钮已过期，请重新提问。", "en": "This button has expired; please ask again."},
}


def say(key: str, lang: str, **values: object) -> str:
    """The text `key` in `lang` (English for anything but "zh"), with `values` filled in."""
    text = TEXTS[key]["zh" if lang == "zh" else "en"]
    return text.format(**values) if values else text
