"""Text in, text out: language, tokens, redaction, grounding. Stdlib-only at import (rasa_addons loads
text.redact inside the Rasa environment); the lowest layer, it imports no other part of llm_fallback."""
