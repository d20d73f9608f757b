"""Input channels: the authenticated intranet webhook (a Rasa InputChannel) and the Telegram bridge.

Until they land, people reach the assistant through Rasa's REST channel and `rasa shell`
(see credentials.yml).
"""
