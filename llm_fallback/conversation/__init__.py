"""Conversations: follow-up questions resolved against what was said before."""
