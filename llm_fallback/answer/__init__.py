"""Grounded answers from retrieved passages: prompt, safety checks, the pipeline, the reply."""
