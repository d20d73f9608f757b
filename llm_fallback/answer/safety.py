"""Refuse credential requests and harmful requests before any retrieval or LLM call; filter output last.

A credential request in words the request check does not know is caught one step later, before the
model: the passages it would be answered from hold a redacted value and it asks for text as written
(`asks_for_redacted_value`).

The checks are deliberately lexical: they run in microseconds, never reach the model, and the
framing of a request (role-play, "for a novel", "my late grandmother used to…") does not change the
topic words they look for. The notes ship redacted anyway; refusing credential questions outright
keeps the bot from even describing where a secret sits.

The harm check guards three places, because the notes themselves quote a role-play jailbreak: the
question (`check_request`), each retrieved passage before it reaches a prompt or a quote, and the
generated reply (`is_harmful`). Chat-template control tokens are neutralised in every message
before any prompt is rendered (`llm.control_tokens.neutralise_control_tokens`, called by llm.service).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from llm_fallback.text.lang import Lang
from llm_fallback.text.redact import MARK, redact
from llm_fallback.text.replies import say

Refusal = Literal["credential", "harmful", "injection"]

# Credential nouns. A bare "token" is an LLM term (max_new_tokens, 1k tokens), so only tokens that
# grant access count.
_CREDENTIAL = re.compile(
    # Letter boundaries, not \b: names like OPENAI_API_KEY join words with underscores.
    r"(?i)(?<![a-z])(?:pass(?:word|wd|phrase)s?|pwd|credentials?|secret[\s_-]*keys?|private[\s_-]*keys?"
    r"|ssh[\s_-]*keys?|api[\s_-]*keys?|access[\s_-]*keys?|(?:api|access|auth|bearer|refresh|session|hf"
    r"|huggingface|github|openai)[\s_-]*tokens?|connection[\s_-]*strings?|dsn|signed[\s_-]*(?:url|link)s?"
    r"|login\s+(?:info|details)|access[\s_-]*codes?|2fa|otp)(?![a-z])"
    r"|密码|口令|密钥|秘钥|私钥|凭证|凭据|令牌|连接串|连接字符串|签名(?:链接|地址|URL)|登录信息|账号密码|访问码"
    # A key named by its well-known prefix ("the sk- key"), the signed part of a link (its query
    # string, its t= token), and what to type to log in over ssh are credentials by another name.
    r"|(?<![A-Za-z0-9])(?:sk|hf|ghp|gho|xox[bpa])[-_](?=[\s\u4e00-\u9fff\"'“”.…。，,]|$)"
    r"|(?i:query[\s_-]*string|查询串|(?<![a-z])[a-z]{1,12}=\s*token)"
    r"|(?i:ssh)[^。？?！!\n]{0,20}(?:输(?:入)?什么|要输|登录用什么|log\s*in\s+with)"
    # One particular key ("the real key", "那个 key", "the OpenAI key"), or a part of it.
    r"|(?i:(?:那个|这个|完整的?|\breal|\bactual|\bopenai|\bfull|\bwhole|\bcomplete)\s*key(?![a-z]))"
    r"|(?i:(?<![a-z])key\s*的?[前后]\s*\d+\s*位)"
    # A database client's full command line carries its user and password.
    r"|(?i:(?<![a-z])(?:mycli|mysql|psql|redis-cli|mongosh)(?![a-z])[^。？?！!\n]{0,40}(?:command|命令|完整|\bfull))"
    r"|(?i:(?:\bfull|\bcomplete|完整)[^。？?！!\n]{0,20}(?<![a-z])(?:mycli|mysql|psql|redis-cli|mongosh)(?![a-z]))"
    # The signed part of a link by other names.
    r"|问号后面|签名参数|(?i:\?\s*后面|after\s+the\s+\?|query\s+param(?:eter)?s?\b)"
)
# Which account, host or port a machine's ssh takes, or "the whole ssh line": the login by parts.
_SSH_LOGIN_PARTS = re.compile(
    r"(?i:ssh)[^。？?！!\n]{0,20}(?:账号|用户名|端口|主机|那行|命令|(?i:host|port|user(?:name)?|command|line)s?\b)"
    r"|(?:账号|用户名|端口|主机|(?i:\bhost|\bport|\busername))[^。？?！!\n]{0,40}(?i:\bssh\b)"
)
# Port forwarding and tunnels over ssh are how-to questions.
_SSH_TUNNEL = re.compile(r"转发|隧道|(?i:forward|tunnel)")
# A question about what a credential setting is for or how it is passed, not its value ("SQL_DSN 是干嘛用
# 的？不用告诉我具体值"), goes on to the notes: they ship redacted, and the output filter runs last.
# What a setting means and why it is there are purpose questions too ("ssh 的 -p 是什么意思？", "does the
# api_key value matter?", "how is the token supplied? is it hardcoded?").
_ASKS_PURPOSE = re.compile(
    r"干嘛用|作用|是做什么的|用来做什么|怎么传|如何传|写死|怎么填|什么意思|含义|为什么|有没有影响|有关系吗"
    r"|(?i:\bwhat\s+(?:is|are)\s+\S+\s+for\b|\bdo\s+i\s+need\b|\bwhy\b|\bmeans?\b|\bmatters?\b"
    r"|\bhow\s+(?:is|are)\s+(?:\S+\s+){1,4}(?:passed|supplied|provided|injected|read|loaded|set)\b"
    r"|\bhard-?coded\b)"
)
# What the question itself says it does not want: a credential or value ("（不需要密码）", "no password
# needed", "I don't need the value"), or to be told at all ("不用告诉我", "don't tell me"). It is cut out
# before any other check reads the question. The declined object comes first in the alternation, so
# "不用告诉我密码" goes whole, not only its "不用告诉我".
_DECLINED = re.compile(
    r"(?:不需要|不用|不要|无需|不必|不包括|不含)(?:告诉我|给我|发|提供)?(?:具体的?)?(?:密码|密钥|key|值)"
    r"|(?i:\b(?:no|without(?:\s+the)?|not\s+(?:asking\s+for|the)|except(?:\s+the)?|excluding(?:\s+the)?"
    r"|(?:don'?t|do\s+not)\s+(?:need|want)(?:\s+the|\s+its)?)\s+(?:password|key|token|secret|credential|value)s?"
    r"(?:\s+needed)?\b)"
    r"|不用告诉我具体值|不用告诉我|不要告诉我|不用发|(?i:don'?t\s+(?:tell|give|show)\s+me)"
)
_ASKS_VALUE = re.compile(
    r"发我|发给我|给我|告诉我|具体值|完整|拼出来|编码|前\s*\d+\s*位"
    r"|(?i:\b(?:give|tell|show|send|paste|spell|encode|decode)\b|base64"
    r"|\bwhat(?:'s|\s+is)\s+the\s+(?:\S+\s+){0,3}(?:password|key|token|dsn)\b)"
)

# Asking for text exactly as the notes have it, or for a value ("list every variable with its value
# verbatim", "链接要一字不差", "把 CODE 的值拼出来"): over a passage whose secret was redacted, that is
# asking for the secret, whatever name the question gives it.
_AS_WRITTEN = re.compile(
    r"完整|全部|一字不差|原样|原封不动|原文|逐字|照抄|具体值|的值|拼出来|念一下|编码|倒着|大写"
    r"|(?i:\b(?:verbatim|exact(?:ly)?|word\s+for\s+word|as\s+(?:it\s+is\s+)?written|in\s+full|full|complete"
    r"|whole|entire|values?|spell(?:ed)?|encode[ds]?|base64|hex|reversed?|backwards)\b)"
)

# Topics whose instructions cause serious harm, in both languages. Whole words for English so that
# ordinary ML vocabulary ("gradient explosion", "attack surface") does not trip them.
_HARMFUL_EN = re.compile(
    r"(?i)\b(?:bombs?|pipe[\s-]*bombs?|explosives?|napalm|molotov|gunpowder|detonators?|thermite"
    r"|nerve[\s-]*agents?|sarin|vx\s+gas|mustard[\s-]*gas|ricin|anthrax|bio[\s-]*weapons?"
    r"|chemical[\s-]*weapons?|nuclear[\s-]*weapons?|dirty[\s-]*bombs?|ghost[\s-]*guns?|untraceable[\s-]*guns?"
    r"|silencers?|meth(?:amphetamine)?|heroin|fentanyl|cocaine|ransomware|keyloggers?|malware"
    r"|poison\s+(?:someone|a\s+person|my|him|her|people)|kill\s+(?:someone|a\s+person|people|him|her)"
    r"|make\s+(?:a\s+)?(?:gun|weapon)s?)\b"
)
_HARMFUL_ZH = re.compile(
    r"炸弹|炸药|凝固汽油弹|汽油弹|燃烧弹|燃烧瓶|莫洛托夫|火药|雷管|铝热剂|毒气|神经毒剂|沙林|芥子气|蓖麻毒素"
    r"|炭疽|生物武器|化学武器|核武器|脏弹|枪支|手枪|步枪|自制枪|消音器|弹药|冰毒|甲基苯丙胺|海洛因|芬太尼"
    r"|可卡因|制毒|勒索软件|勒索病毒|键盘记录器|恶意软件|木马程序|下毒|投毒|杀人|自制武器|制作武器"
)
# Attempts to turn passages or the question into instructions for the model.
# "Jailbreak" and "system prompt" are also topics an LLM team asks about ("what is a jailbreak
# prompt?", "系统提示词怎么写？"), so only the words used as commands count: switching modes, being
# jailbroken, showing or dropping *your* system prompt. Questions about the concept go on, and the
# harm checks on passages and reply keep a jailbreak the notes quote from being acted out.
_INJECTION = re.compile(
    r"(?i)\bignore\s+(?:all\s+|the\s+)?(?:previous|prior|above|earlier)\s+(?:instructions|rules|prompts?)\b"
    r"|\b(?:developer|jailbreak|jailbroken|DAN|god|unrestricted)\s+mode\b|\bdo\s+anything\s+now\b"
    r"|\b(?:you\s+are|you're)\s+(?:now\s+)?(?:jailbroken|DAN|free\s+of\s+(?:all\s+)?(?:rules|restrictions))\b"
    r"|\bjailbreak\s+(?:yourself|you|the\s+(?:bot|assistant|model))\b"
    r"|\b(?:print|show|reveal|repeat|output|display|tell\s+me|give\s+me|what\s+is|what's|ignore|forget)"
    r"\s+(?:me\s+)?(?:your|the\s+above|the\s+hidden|the\s+initial)\s+(?:system\s+)?(?:prompt|instructions)\b"
    r"|忽略(?:之前|以上|上面|前面)的?(?:所有)?(?:指令|指示|规则|提示)|越狱模式|开发者模式|你(?:已经|已|现在)?(?:被)?越狱"
    r"|(?:输出|显示|打印|告诉我|给我|重复|泄露|忽略|忘记)(?:一下)?你的(?:系统)?(?:提示词|指令|设定)"
)


@dataclass(frozen=True)
class Verdict:
    reason: Refusal

    def reply(self, lang: Lang) -> str:
        return say(f"refused_{self.reason}", lang)


def is_harmful(text: str) -> bool:
    """Whether `text` names a topic whose instructions cause serious harm (question, passage or reply)."""
    return bool(_HARMFUL_EN.search(text) or _HARMFUL_ZH.search(text))


def without_harmful_lines(text: str) -> str:
    """`text` without its lines that name a harmful topic, stripped ("" when none is left)."""
    return "\n".join(line for line in text.splitlines() if not is_harmful(line)).strip()


def _asks_for_credential(question: str) -> bool:
    question = _DECLINED.sub(" ", question)
    named = _CREDENTIAL.search(question) or (
        _SSH_LOGIN_PARTS.search(question) and not _SSH_TUNNEL.search(question))
    return bool(named) and not _asks_only_purpose(question)


def _asks_only_purpose(question: str) -> bool:
    """`question` with what it declines already cut out (`_DECLINED`)."""
    return bool(_ASKS_PURPOSE.search(question)) and not _ASKS_VALUE.search(question)


def asks_for_redacted_value(question: str, passages: Iterable[str]) -> bool:
    """Whether the question asks, as written, for what the passages it would be answered from
    withhold: the request gate's words missed it, but the answer's place is a redacted secret."""
    question = _DECLINED.sub(" ", question)
    return (any(MARK in text for text in passages) and bool(_AS_WRITTEN.search(question))
            and not _asks_only_purpose(question))


def check_request(question: str) -> Verdict | None:
    """A refusal verdict when the question must not reach retrieval or the LLM, else None."""
    if is_harmful(question):
        return Verdict("harmful")
    if _asks_for_credential(question):
        return Verdict("credential")
    if _INJECTION.search(question):
        return Verdict("injection")
    return None


def filter_output(text: str) -> str:
    """The last filter on every reply: whatever slipped through (a key the user pasted, a model
    hallucinating a DSN) is redacted the same way the notes are."""
    return redact(text).text
