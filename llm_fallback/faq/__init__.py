"""The reviewed FAQ: store, matcher, checks, and the offline tools that generate, paraphrase, review,
sync and fit it."""
