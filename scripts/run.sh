#!/usr/bin/env bash
# Starts the action server in the background and, in front, either the Rasa server (`run`) or
# `rasa shell` (`shell`); with TELEGRAM_BOT_TOKEN set, `run` also starts the Telegram bridge.
# When any of them ends, on Ctrl-C, or when the terminal closes (SIGHUP), everything stops.
#
# Everything listens on loopback unless told otherwise, and nothing beyond loopback goes without
# authentication (SECURITY.md):
#   RASA_INTERFACE    where the Rasa server listens (default 127.0.0.1)
#   ACTION_INTERFACE  where the action server listens (default 127.0.0.1); anything else needs
#                     ACTION_SERVER_TOKEN, which Rasa then sends with every action call
#   RASA_API=on       Rasa's HTTP API (trackers, model replacement); needs RASA_AUTH_TOKEN or
#                     RASA_JWT_SECRET, passed to Rasa as --auth-token / --jwt-secret
set -euo pipefail
mode=${1:-run}
RASA_PORT=${RASA_PORT:-5005}
ACTION_PORT=${ACTION_PORT:-5055}
RASA_INTERFACE=${RASA_INTERFACE:-127.0.0.1}
ACTION_INTERFACE=${ACTION_INTERFACE:-127.0.0.1}
RASA_API=${RASA_API:-off}
cd "$(dirname "$0")/.."

fail() { echo "$*" >&2; exit 1; }

is_loopback() {
  .venv/bin/python -c 'import sys; from channels.loopback import is_loopback; sys.exit(not is_loopback(sys.argv[1]))' "$1"
}

port_free() {
  .venv/bin/python -c "import socket,sys; s=socket.socket(); s.bind((sys.argv[1], int(sys.argv[2])))" "$1" "$2" 2>/dev/null
}
for spec in "$RASA_INTERFACE:$RASA_PORT" "$ACTION_INTERFACE:$ACTION_PORT"; do
  if ! port_free "${spec%:*}" "${spec##*:}"; then
    fail "Port ${spec##*:} is in use. Stop what uses it ('ss -ltnp | grep :${spec##*:}') or pick others:
  make $mode RASA_PORT=5006 ACTION_PORT=5056"
  fi
done

rasa_api_args=()
case "$RASA_API" in
  off) ;;
  on)
    if [ -n "${RASA_JWT_SECRET:-}" ]; then
      # One argument each: a secret may start with "-", which argparse would read as an option.
      rasa_api_args=(--enable-api "--jwt-secret=$RASA_JWT_SECRET" --jwt-method "${RASA_JWT_METHOD:-HS256}")
    elif [ -n "${RASA_AUTH_TOKEN:-}" ]; then
      rasa_api_args=(--enable-api "--auth-token=$RASA_AUTH_TOKEN")
    else
      fail "RASA_API=on needs RASA_AUTH_TOKEN or RASA_JWT_SECRET: Rasa's HTTP API reads every conversation and replaces the model."
    fi ;;
  *) fail "RASA_API must be 'on' or 'off', not '$RASA_API'" ;;
esac

export SANIC_HOST=$ACTION_INTERFACE  # where rasa-sdk listens
if [ -z "${ACTION_SERVER_TOKEN:-}" ] && ! is_loopback "$ACTION_INTERFACE"; then
  fail "ACTION_INTERFACE=$ACTION_INTERFACE is beyond loopback: set ACTION_SERVER_TOKEN (a long random string) too."
fi

mkdir -p var
# The action server's port varies, and its token goes along as a header. The file names the
# environment variable, never the token itself: Rasa expands ${...} when it reads the file.
# How to reach a server from this host: a wildcard interface includes loopback.
local_address() { case "$1" in 0.0.0.0|::) echo 127.0.0.1 ;; *) echo "$1" ;; esac; }
action_host=$(local_address "$ACTION_INTERFACE")
endpoints=var/endpoints-$RASA_PORT.yml  # one per port: two stacks may run side by side
sed "s#localhost:5055#${action_host}:${ACTION_PORT}#" endpoints.yml > "$endpoints"
if [ -n "${ACTION_SERVER_TOKEN:-}" ]; then
  export ACTION_SERVER_TOKEN
  # shellcheck disable=SC2016
  # Unquoted: Rasa expands variables in plain YAML scalars only.
  sed -i '/^  url: "http.*\/webhook"$/a\  headers:\n    Authorization: Bearer ${ACTION_SERVER_TOKEN}' "$endpoints"
fi

pids=()
names=()  # names[i] is what pids[i] runs, for the shutdown log
STOP_GRACE_S=${STOP_GRACE_S:-20}
cleanup() {
  trap - EXIT INT TERM HUP
  [ ${#pids[@]} -gt 0 ] || return 0
  kill "${pids[@]}" 2>/dev/null || true
  # A server busy in native code (loading a model, generating) can ignore TERM for long; a
  # closed terminal must not leave it running, so after the grace period it is killed.
  local deadline=$((SECONDS + STOP_GRACE_S)) i
  while [ $SECONDS -lt $deadline ] && kill -0 "${pids[@]}" 2>/dev/null; do sleep 0.5; done
  for i in "${!pids[@]}"; do
    if kill -0 "${pids[$i]}" 2>/dev/null; then
      echo "${names[$i]} (pid ${pids[$i]}) did not stop within ${STOP_GRACE_S}s of TERM; killing it" >&2
      kill -KILL "${pids[$i]}" 2>/dev/null || true
    fi
  done
  wait 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

actions_cmd=(.venv/bin/python -m rasa_sdk --actions actions --port "$ACTION_PORT"
             --logging-config_file logging.yml)
# `rasa run`, started through rasa_addons.launch (it says what it changes and why).
rasa_run=(.venv-rasa/bin/python -m rasa_addons.launch run)
rasa_common=(--endpoints "$endpoints" --port "$RASA_PORT" --interface "$RASA_INTERFACE"
             --logging-config-file logging.yml)
if [ "$mode" = shell ]; then
  # The shell's screen is for the conversation; the servers log to files. `rasa run` with
  # credentials.yml rather than `rasa shell`, so the shell meets the channels people meet
  # (channels/shell.py says why); the console is the one `rasa shell` uses.
  echo "logs: var/rasa.log, var/action-server.log; starting (about a minute)..."
  "${actions_cmd[@]}" > var/action-server.log 2>&1 &
  pids+=($!); names+=("action server")
  "${rasa_run[@]}" "${rasa_common[@]}" "${rasa_api_args[@]}" > var/rasa.log 2>&1 &
  pids+=($!); names+=("Rasa server")
  rasa_url="http://$(local_address "$RASA_INTERFACE"):${RASA_PORT}"
  until .venv/bin/python -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' \
    "$rasa_url/webhooks/rest/" 2>/dev/null; do
    kill -0 "${pids[@]}" 2>/dev/null || fail "a server failed to start; see var/rasa.log and var/action-server.log"
    sleep 1
  done
  # In the background so that the traps run at once (terminal closed); it still reads the terminal.
  .venv-rasa/bin/python -m channels.shell --url "$rasa_url" <&0 &
  console=$!
  pids+=("$console"); names+=("shell console")
  status=0
  wait -n || status=$?
  # /stop ends the console; anything else ending first is a server that died.
  kill -0 "$console" 2>/dev/null && fail "a server stopped (exit $status); see var/rasa.log and var/action-server.log"
  exit "$status"
else
  if [ -n "${TELEGRAM_BOT_TOKEN:-}" ] && [ -z "${TELEGRAM_RASA_TOKEN:-}" ]; then
    # The bridge reaches Rasa through the intranet channel with a service token; without one
    # configured, this run makes one up and gives it to both sides, named "telegram".
    TELEGRAM_RASA_TOKEN=$(.venv/bin/python -c 'import secrets; print(secrets.token_urlsafe(32))')
    INTRANET_TOKENS="${INTRANET_TOKENS:+$INTRANET_TOKENS,}telegram:$TELEGRAM_RASA_TOKEN"
    export TELEGRAM_RASA_TOKEN INTRANET_TOKENS
  fi
  "${actions_cmd[@]}" &
  pids+=($!); names+=("action server")
  "${rasa_run[@]}" "${rasa_common[@]}" "${rasa_api_args[@]}" &
  pids+=($!); names+=("Rasa server")
  if [ -n "${TELEGRAM_BOT_TOKEN:-}" ]; then
    # The Telegram bridge (long polling; webhook mode with TELEGRAM_WEBHOOK_URL) once Rasa answers.
    (
      export RASA_URL="http://$(local_address "$RASA_INTERFACE"):${RASA_PORT}"
      until .venv/bin/python -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' \
        "$RASA_URL/" 2>/dev/null; do sleep 2; done
      exec .venv/bin/python -m channels.telegram_bridge
    ) &
    pids+=($!); names+=("Telegram bridge")
  fi
  # Stop all when one dies, so a crashed action server is not left unnoticed.
  status=0
  wait -n || status=$?
  echo "a server stopped (exit $status); stopping the others" >&2
  exit "$status"
fi
