"""Chat-template control tokens neutralised in every prompt message, for every backend.

Lives with the LLM service because it guards what reaches the model, whatever builds the prompt."""

from __future__ import annotations

import re

# Chat-template markers of the model families a GGUF or an OpenAI-compatible server may run: ChatML
# and Qwen (<|im_start|>, <|endoftext|>, <|fim_prefix|> ...), Llama 3 and Phi (<|eot_id|>, <|end|>),
# DeepSeek (fullwidth bars), Qwen's and Gemma's angle-bracket tokens, Llama 2 and Mistral's [INST].
# llama.cpp renders the template and tokenises the result with special tokens parsed, so the same
# text typed by a user or written in a note would otherwise become a real control token.
_CONTROL_TOKEN = re.compile(
    r"(?i)<\s*[|｜]\s*([^<>|｜\n]{0,64}?)\s*[|｜]\s*>"
    r"|</?(tool_call|tool_response|think|start_of_turn|end_of_turn|s|bos|eos|pad|unk|mask)>"
    r"|\[/?(INST|SYS|TOOL_CALLS|AVAILABLE_TOOLS|TOOL_RESULTS)\]|<</?(SYS)>>"
)


def _bare_name(match: re.Match[str]) -> str:
    return next((g for g in match.groups() if g), " ")


def neutralise_control_tokens(text: str) -> str:
    """`text` with every chat-template marker replaced by its bare name (`<|endoftext|>` becomes
    `endoftext`): a note that mentions a marker still reads sensibly, and a plain word is never a
    control token in any template. Repeated until nothing matches, because removing one marker can
    join the pieces around it into another (`<|im_<|x|>start|>`); every pass shortens the text."""
    while True:
        cleaned = _CONTROL_TOKEN.sub(_bare_name, text)
        if cleaned == text:
            return text
        text = cleaned
