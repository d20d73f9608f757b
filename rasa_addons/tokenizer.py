"""Jieba tokenization without whitespace tokens, for mixed Chinese and English messages.

Rasa's JiebaTokenizer keeps every piece jieba returns, spaces included, so in English or mixed
text DIET can tag a lone space as an entity (" " as `hardware` in "a CPU server") and spans end in
a space ("full fine-tuning "). Dropping those tokens changes nothing else: Chinese has no spaces.
"""

from __future__ import annotations

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.tokenizers.jieba_tokenizer import JiebaTokenizer
from rasa.nlu.tokenizers.tokenizer import Token
from rasa.shared.nlu.training_data.message import Message


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER, is_trainable=True)
class JiebaWordTokenizer(JiebaTokenizer):
    def tokenize(self, message: Message, attribute: str) -> list[Token]:
        return [token for token in super().tokenize(message, attribute) if token.text.strip()]
