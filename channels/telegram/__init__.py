"""The Telegram bridge in parts: handlers (the conversation), app (wiring), webhook (the webhook server).
The entry point stays `python -m channels.telegram_bridge`."""
