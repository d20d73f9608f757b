"""How much of DIET's intent ranking the linear classifier should blend in, chosen by cross-validation
on the assistant's own training data (never on tests/nlu_test.yml, which stays held out).

    .venv-rasa/bin/python -m bench.intent_blend [--folds 5] [--config config.yml] [--json F]

Runs in the Rasa environment. For each fold it trains config.yml's NLU components on the other folds
(DIET's epochs as configured), then parses the fold once per blend weight: the weight is
LinearIntentClassifier's `earlier_weight`, 0 being the linear model alone and 1 DIET alone. Prints
top-intent accuracy per weight over all folds. With PYTHONHASHSEED=0 and TF_DETERMINISTIC_OPS=1 in
the environment, a run repeats exactly.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from bench.clinc150 import FALLBACK_INTENT, pipeline_config

ROOT = Path(__file__).resolve().parent.parent
WEIGHTS = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0]
SEED = 42
LINEAR = "LinearIntentClassifier"


def nlu_config(config_path: Path) -> dict:
    """config.yml's NLU part, as the CLINC150 bench trains it."""
    config, _, _ = pipeline_config(config_path, epochs=None)
    if not any(c["name"].endswith(LINEAR) for c in config["pipeline"]):
        raise SystemExit(f"{config_path} has no {LINEAR}: there is nothing to blend")
    return config


def folds(nlu_path: Path, n: int) -> list[tuple[str, list[tuple[str, str]]]]:
    """(training data as YAML, held-out (text, intent) pairs) per fold, stratified by intent."""
    from rasa.shared.nlu.training_data.loading import load_data
    from rasa.shared.nlu.training_data.training_data import TrainingData
    from sklearn.model_selection import StratifiedKFold

    data = load_data(str(nlu_path))
    examples = data.intent_examples
    intents = [e.get("intent") for e in examples]
    result = []
    splitter = StratifiedKFold(n, shuffle=True, random_state=SEED)
    for train_index, test_index in splitter.split(examples, intents):
        train = TrainingData(training_examples=[examples[i] for i in train_index],
                             entity_synonyms=data.entity_synonyms, regex_features=data.regex_features,
                             lookup_tables=data.lookup_tables)
        result.append((train.nlu_as_yaml(), [(examples[i].get("text"), intents[i]) for i in test_index]))
    return result


def linear_component(agent: Any) -> Any:  # Rasa's Agent and the component: Rasa's environment only
    for name, node in agent.processor.graph_runner._instantiated_nodes.items():
        if LINEAR in name and name.startswith("run_"):
            return node._component
    raise SystemExit(f"the trained model has no {LINEAR}")


async def correct_per_weight(model: str, held_out: list[tuple[str, str]]) -> dict[float, int]:
    from rasa.core.agent import Agent

    agent = Agent.load(model)
    component = linear_component(agent)
    correct = {}
    for weight in WEIGHTS:
        component._config["earlier_weight"] = weight
        hits = 0
        for text, intent in held_out:
            parsed = await agent.parse_message(text)
            ranking = [r for r in parsed.get("intent_ranking") or [] if r["name"] != FALLBACK_INTENT]
            hits += bool(ranking) and ranking[0]["name"] == intent
        correct[weight] = hits
    return correct


def main(argv: list[str] | None = None) -> None:
    from rasa.model_training import train_nlu

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=ROOT / "config.yml")
    parser.add_argument("--nlu", type=Path, default=ROOT / "data" / "nlu.yml")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args(argv)

    workdir = Path(tempfile.mkdtemp(prefix="intent-blend-"))
    (workdir / "config.yml").write_text(yaml.safe_dump(nlu_config(args.config)), encoding="utf-8")
    totals = {w: 0 for w in WEIGHTS}
    examples = 0
    start = time.monotonic()
    for i, (train_yaml, held_out) in enumerate(folds(args.nlu, args.folds)):
        (workdir / f"fold{i}.yml").write_text(train_yaml, encoding="utf-8")
        model = train_nlu(str(workdir / "config.yml"), str(workdir / f"fold{i}.yml"), str(workdir / "models"),
                          fixed_model_name=f"fold{i}")
        if model is None:
            raise SystemExit("training failed: see Rasa's log above")
        for weight, hits in asyncio.run(correct_per_weight(model, held_out)).items():
            totals[weight] += hits
        examples += len(held_out)
        print(f"fold {i + 1}/{args.folds} done ({(time.monotonic() - start) / 60:.1f} min)", flush=True)

    accuracy = {w: round(totals[w] / examples, 4) for w in WEIGHTS}
    print(f"{args.folds}-fold cross-validation on {args.nlu.name} ({examples} examples); "
          "earlier_weight 0 = linear alone, 1 = DIET alone")
    for weight, value in accuracy.items():
        print(f"  earlier_weight {weight:.1f}: top-intent accuracy {value:.4f}")
    if args.json:
        args.json.write_text(json.dumps({"folds": args.folds, "examples": examples, "accuracy": accuracy},
                                        indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
