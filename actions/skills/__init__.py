"""Task skills: rules of thumb from the notes, answered exactly and instantly (no LLM).

Each skill is a pure module (rule table + calculation + bilingual rendering) that knows nothing
about Rasa: vram, quant, params, lora, engines. `normalize` turns user wording into canonical
values. The rasa-sdk classes are thin: `forms` validates slots, `skill_actions` reads slots,
calls a pure function and dispatches the text.
"""
