"""Channels people use to reach the Rasa server.

- `intranet`: the authenticated intranet webhook, a Rasa InputChannel (Rasa env, credentials.yml);
  with `auth`, `payload`, `ratelimit`, `sources`, `settings` (plain Python, both environments).
- `telegram_bridge` (entry point) and `telegram/` (handlers, app, webhook): the Telegram bridge
  (app env, python-telegram-bot), with `rasa_client` and `telegram_format`; it reaches Rasa
  through the intranet webhook and never imports Rasa.
- `web/index.html`: the web chat page; `openapi.yaml`: the intranet webhook's contract.

Nothing is imported here: each environment imports only the modules it can run.
"""
