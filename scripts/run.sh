#!/usr/bin/env bash
# Starts the action server in the background and, in front, either the Rasa server (`run`) or
# `rasa shell` (`shell`); with TELEGRAM_BOT_TOKEN set, `run` also starts the Telegram bridge.
# When the front process ends, or on Ctrl-C, everything stops.
set -euo pipefail
mode=${1:-run}
RASA_PORT=${RASA_PORT:-5005}
ACTION_PORT=${ACTION_PORT:-5055}
cd "$(dirname "$0")/.."

port_free() {
  .venv/bin/python -c "import socket,sys; s=socket.socket(); s.bind(('0.0.0.0', int(sys.argv[1])))" "$1" 2>/dev/null
}
for port in "$RASA_PORT" "$ACTION_PORT"; do
  if ! port_free "$port"; then
    echo "Port $port is in use. Stop what uses it ('ss -ltnp | grep :$port') or pick others:" >&2
    echo "  make $mode RASA_PORT=5006 ACTION_PORT=5056" >&2
    exit 1
  fi
done

mkdir -p var
# The action server's port is the one thing that varies in endpoints.yml.
sed "s#localhost:5055#localhost:${ACTION_PORT}#" endpoints.yml > var/endpoints.yml

pids=()
cleanup() {
  trap - EXIT INT TERM
  [ ${#pids[@]} -gt 0 ] && kill "${pids[@]}" 2>/dev/null
  wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

if [ "$mode" = shell ]; then
  # The shell's screen is for the conversation; the action server logs to a file.
  echo "action server log: var/action-server.log"
  .venv/bin/python -m rasa_sdk --actions actions --port "$ACTION_PORT" > var/action-server.log 2>&1 &
  pids+=($!)
  .venv-rasa/bin/rasa shell --endpoints var/endpoints.yml --port "$RASA_PORT"
else
  if [ -n "${TELEGRAM_BOT_TOKEN:-}" ] && [ -z "${TELEGRAM_RASA_TOKEN:-}" ]; then
    # The bridge reaches Rasa through the intranet channel with a service token; without one
    # configured, this run makes one up and gives it to both sides.
    TELEGRAM_RASA_TOKEN=$(.venv/bin/python -c 'import secrets; print(secrets.token_urlsafe(32))')
    INTRANET_TOKENS="${INTRANET_TOKENS:+$INTRANET_TOKENS,}$TELEGRAM_RASA_TOKEN"
    export TELEGRAM_RASA_TOKEN INTRANET_TOKENS
  fi
  .venv/bin/python -m rasa_sdk --actions actions --port "$ACTION_PORT" &
  pids+=($!)
  .venv-rasa/bin/rasa run --enable-api --endpoints var/endpoints.yml --port "$RASA_PORT" &
  pids+=($!)
  if [ -n "${TELEGRAM_BOT_TOKEN:-}" ]; then
    # The Telegram bridge (long polling; webhook mode with TELEGRAM_WEBHOOK_URL) once Rasa answers.
    (
      export RASA_URL="http://127.0.0.1:${RASA_PORT}"
      until .venv/bin/python -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' \
        "$RASA_URL/status" 2>/dev/null; do sleep 2; done
      exec .venv/bin/python -m channels.telegram_bridge
    ) &
    pids+=($!)
  fi
  # Stop both when either dies, so a crashed action server is not left unnoticed.
  wait -n
fi
