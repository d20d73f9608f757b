#!/usr/bin/env bash
# `make eval`: every evaluation in one report, reports/index.html (issue 19). Not part of `make test`:
# about 1.5 h on 2 cores (CLINC150 alone about 30 min at 40 epochs), most of it model time.
#
#   EVAL_QUICK=1   CLINC150 on 20 examples per intent and 40 epochs, every 3rd question and
#                  conversation: a look at the report in about 25 min, not figures to quote.
#
# Rasa's own checks first (held-out NLU messages, 5-fold cross-validation, stories), then CLINC150,
# the answer bench, and the question and conversation benches through the REST webhook of a stack
# this script starts on loopback ports of its own, with a one-off API token, and stops.
set -euo pipefail
cd "$(dirname "$0")/.."
# Cross-validation and CLINC150 train models: the same settings as `make train`, so they repeat.
export PYTHONHASHSEED=0 TF_DETERMINISTIC_OPS=1
out=reports
rasa=.venv-rasa/bin/rasa
app=.venv/bin/python
model=models/notes-assistant.tar.gz
quick=${EVAL_QUICK:-}
every=$([ -n "$quick" ] && echo 3 || echo 1)
mkdir -p "$out" var
step() { echo; echo ">>> $*"; }

step "NLU on the held-out messages (tests/nlu_test.yml)"
rm -rf "$out/nlu-test"
$rasa test nlu --model "$model" --nlu tests/nlu_test.yml --out "$out/nlu-test"

step "NLU 5-fold cross-validation on data/nlu.yml"
rm -rf "$out/nlu-cv"
$rasa test nlu --nlu data/nlu.yml --config config.yml --cross-validation --folds 5 --out "$out/nlu-cv"

step "stories (tests/test_stories.yml), failing on any prediction error"
rm -rf "$out/core"
$rasa test core --model "$model" --stories tests/test_stories.yml --fail-on-prediction-errors \
  --out "$out/core" --no-plot || echo "stories: prediction errors, see $out/core/failed_test_stories.yml"

step "CLINC150 with this project's pipeline"
# 40 of config.yml's 100 epochs: DIET takes ~40 s an epoch on CLINC's 15,000 examples here.
clinc_args=(--epochs 40)
[ -n "$quick" ] && clinc_args=(--per-intent 20 --epochs 40)
.venv-rasa/bin/python -m bench.clinc150 --out "$out/clinc150" "${clinc_args[@]}"

step "answer bench (the notes pipeline alone)"
$app -m bench.answer --every "$every" --no-raw --json "$out/answer.json"

step "starting a stack for the webhook benches"
rasa_port=${EVAL_RASA_PORT:-5015}
action_port=${EVAL_ACTION_PORT:-5065}
token=$($app -c 'import secrets; print(secrets.token_urlsafe(24))')
RASA_API=on RASA_AUTH_TOKEN=$token RASA_PORT=$rasa_port ACTION_PORT=$action_port \
  scripts/run.sh run > var/eval-stack.log 2>&1 &
stack=$!
trap 'kill $stack 2>/dev/null; wait $stack 2>/dev/null || true' EXIT
for _ in $(seq 300); do
  curl -sf "http://127.0.0.1:$rasa_port/status?token=$token" >/dev/null && break
  kill -0 $stack 2>/dev/null || { echo "the stack stopped: see var/eval-stack.log"; exit 1; }
  sleep 1
done
url=http://127.0.0.1:$rasa_port

step "questions through the REST webhook (held-out split)"
RASA_AUTH_TOKEN=$token $app -m bench.e2e --url "$url" --split heldout --every "$every" --json "$out/e2e.json"

step "conversations through the REST webhook (held-out split)"
RASA_AUTH_TOKEN=$token $app -m bench.conversations --url "$url" --split heldout --every "$every" \
  --json "$out/conversations.json"

kill $stack 2>/dev/null; wait $stack 2>/dev/null || true
trap - EXIT

step "the report"
.venv-rasa/bin/python -m bench.report --inputs "$out" --out "$out/index.html"
$app -m bench.report --check --out "$out/index.html"
