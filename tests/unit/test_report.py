"""bench/report.py: the page built from small result files, read back as a browser would (the
parsed text of each section's tables), without matplotlib (this environment has none)."""

from __future__ import annotations

import json
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from bench.report import SECTION_TITLES, Header, build_page, cpu_model, git_commit, total_ram_gib

HEADER = Header(commit="abc1234 + uncommitted changes", date="2025-01-01 00:00 UTC", machine="test box")
INTENT_REPORT = {
    "greet": {"precision": 1.0, "recall": 0.9, "f1-score": 0.947, "support": 10, "confused_with": {}},
    "ask_vram": {"precision": 0.5, "recall": 1.0, "f1-score": 0.667, "support": 4,
                 "confused_with": {"<x>": 2}},
    "<x>": {"precision": 0.8, "recall": 0.4, "f1-score": 0.533, "support": 5,
            "confused_with": {"ask_vram": 3}},
    "accuracy": 0.842,
    "macro avg": {"precision": 0.767, "recall": 0.767, "f1-score": 0.716, "support": 19},
    "weighted avg": {"precision": 0.84, "recall": 0.842, "f1-score": 0.812, "support": 19},
    "micro avg": {"precision": 0.842, "recall": 0.842, "f1-score": 0.842, "support": 19},
}


class Sections(HTMLParser):
    """Each <section>'s text and the rows of its tables (cell texts, unescaped)."""

    def __init__(self) -> None:
        super().__init__()
        self.text: dict[str, str] = {}
        self.rows: dict[str, list[list[str]]] = {}
        self.section: str | None = None
        self.cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "section":
            self.section = dict(attrs)["id"]
            self.text[self.section], self.rows[self.section] = "", []
        elif self.section and tag == "tr":
            self.rows[self.section].append([])
        elif self.section and tag in ("td", "th"):
            self.cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "section":
            self.section = None
        elif self.section and tag in ("td", "th") and self.cell is not None:
            self.rows[self.section][-1].append("".join(self.cell))
            self.cell = None

    def handle_data(self, data: str) -> None:
        if self.section:
            self.text[self.section] += data
        if self.cell is not None:
            self.cell.append(data)


def parse(page: str) -> Sections:
    parser = Sections()
    parser.feed(page)
    return parser


def write(path: Path, data: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data), encoding="utf-8")


@pytest.fixture
def nlu_only(tmp_path: Path) -> str:
    write(tmp_path / "nlu-test" / "intent_report.json", INTENT_REPORT)
    page, _ = build_page(tmp_path, HEADER, paper_path=tmp_path / "absent.json")
    return page


def test_only_the_nlu_report_gives_its_table_worst_f1_first_and_the_rest_not_run(nlu_only: str) -> None:
    sections = parse(nlu_only)
    assert list(sections.text) == list(SECTION_TITLES)
    intents = [row for row in sections.rows["nlu-test"] if row and row[0] != "intent"]
    assert [(r[0], r[1], r[2], r[3], r[4]) for r in intents] == [
        ("<x>", "0.533", "0.800", "0.400", "5"),
        ("ask_vram", "0.667", "0.500", "1.000", "4"),
        ("greet", "0.947", "1.000", "0.900", "10"),
    ]
    assert intents[1][5] == "<x> (2)"
    assert "accuracy 0.842, macro F1 0.716" in sections.text["nlu-test"]
    assert "not run" not in sections.text["nlu-test"]
    # No entity report and no confusion matrix: said so, inside a section that ran.
    assert "no DIETClassifier_report.json" in sections.text["nlu-test"]
    for key in set(SECTION_TITLES) - {"nlu-test"}:
        assert "not run" in sections.text[key], key
    assert "<img" not in nlu_only


def test_an_intent_named_like_a_tag_is_escaped(nlu_only: str) -> None:
    assert "<x>" not in nlu_only
    assert "&lt;x&gt;" in nlu_only


def test_the_header_names_the_commit_and_the_machine(nlu_only: str) -> None:
    assert "abc1234 + uncommitted changes" in nlu_only
    assert "test box" in nlu_only


def test_the_commit_is_read_from_git_and_marked_when_the_tree_differs(tmp_path: Path) -> None:
    def git(*args: str) -> str:
        identity = ["-c", "user.name=t", "-c", "user.email=t@example.org"]
        return subprocess.run(["git", "-C", str(tmp_path), *identity, *args], capture_output=True, text=True,
                              check=True).stdout.strip()

    git("init", "-q")
    (tmp_path / "a.txt").write_text("a", encoding="utf-8")
    git("add", "a.txt")
    git("commit", "-q", "-m", "a")
    head = git("rev-parse", "--short", "HEAD")
    assert git_commit(tmp_path) == head
    (tmp_path / "b.txt").write_text("b", encoding="utf-8")
    assert git_commit(tmp_path) == f"{head} + uncommitted changes"
    assert git_commit(tmp_path / "not-a-repo").startswith("unknown")


def test_e2e_records_give_accuracy_per_kind_and_the_route_matrix(tmp_path: Path) -> None:
    records = [
        {"split": "tune", "kind": "notes", "expected": "notes", "taken": "notes", "correct": True,
         "confused": False, "seconds": 2.0},
        {"split": "tune", "kind": "notes", "expected": "notes", "taken": "skill:vram", "correct": False,
         "confused": True, "seconds": 0.5},
        {"split": "tune", "kind": "oos", "expected": "oos", "taken": "not_covered", "correct": True,
         "confused": False, "seconds": 1.0},
    ]
    write(tmp_path / "e2e.json", records)
    page, sections = build_page(tmp_path, HEADER, paper_path=tmp_path / "absent.json")
    rows = parse(page).rows["e2e"]
    assert ["notes", "1/2 (50.0%)"] in rows
    assert ["oos", "1/1 (100.0%)"] in rows
    assert ["expected \\ taken", "not_covered", "notes", "skill:vram"] in rows
    assert ["notes", "0", "1", "1"] in rows
    assert ["oos", "1", "0", "0"] in rows
    assert '<td class="num bad">1</td>' in page  # the notes question a skill answered
    assert ["notes", "1", "2.00", "2.00", "2.00"] in rows  # latency per route taken
    assert not any(s.error for s in sections)


def test_a_malformed_file_costs_only_its_own_section(tmp_path: Path) -> None:
    write(tmp_path / "answer.json", [{"kind": "notes"}])  # no "pass"
    write(tmp_path / "nlu-test" / "intent_report.json", INTENT_REPORT)
    page, sections = build_page(tmp_path, HEADER, paper_path=tmp_path / "absent.json")
    errors = {s.key: s.error for s in sections if s.error}
    assert list(errors) == ["answer"]
    assert "KeyError" in errors["answer"]
    assert "0.533" in parse(page).text["nlu-test"]


def test_the_machine_is_read_from_proc(tmp_path: Path) -> None:
    (tmp_path / "cpuinfo").write_text("processor\t: 0\nmodel name\t: Test CPU @ 3.00GHz\n", encoding="utf-8")
    (tmp_path / "meminfo").write_text("MemTotal:       16777216 kB\nMemFree: 1 kB\n", encoding="utf-8")
    assert cpu_model(tmp_path / "cpuinfo") == "Test CPU @ 3.00GHz"
    assert total_ram_gib(tmp_path / "meminfo") == 16.0
    assert cpu_model(tmp_path / "absent") == "unknown CPU"
