"""``python -m llm_fallback``: index, search, redact; bad input is one clear line and exit 2."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FAKE_PASSWORD = "Zq9" + "xW4vR7tP2m"  # made up for this test


def run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "llm_fallback", *args], capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=120, check=False)


@pytest.fixture(scope="module")
def notes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    notes = tmp_path_factory.mktemp("notes")
    (notes / "deploy.md").write_text(
        "# 部署\n## 服务器\nssh -p 2222 root@gpu.example.com\n" + FAKE_PASSWORD + "\n\n"
        "## Gradio\n启动 Gradio Web Server，默认端口为 7860，可通过 --port 指定。\n", encoding="utf-8")
    (notes / "quant.md").write_text("# 量化\n8bit 量化是免费午餐，无损失。\n", encoding="utf-8")
    return notes


def test_redact_writes_copy_and_reports_without_values(notes: Path, tmp_path: Path) -> None:
    result = run("redact", str(notes), str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    assert "login_password\tdeploy.md:4" in result.stdout
    assert FAKE_PASSWORD not in result.stdout + result.stderr
    copy = (tmp_path / "out" / "deploy.md").read_text(encoding="utf-8")
    assert FAKE_PASSWORD not in copy and "[REDACTED]" in copy
    assert (tmp_path / "out" / "quant.md").is_file()


def test_index_then_search_json(notes: Path, tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'kb.db'}"
    indexed = run("index", "--notes", str(notes), "--db", db)
    assert indexed.returncode == 0, indexed.stderr
    assert "indexed 2 documents" in indexed.stdout
    assert "embedding" in indexed.stderr  # the progress bar
    found = run("search", "Gradio 默认端口是多少？", "--k", "2", "--json", "--db", db)
    assert found.returncode == 0, found.stderr
    hits = json.loads(found.stdout)
    assert len(hits) == 2
    assert set(hits[0]) >= {"file", "heading", "lines", "score", "relevant", "text"}
    assert hits[0]["file"] == "deploy.md" and "7860" in hits[0]["text"]
    assert hits[0]["lines"] == "1-7" and hits[0]["heading"] == "部署"  # small sibling sections merge
    assert FAKE_PASSWORD not in found.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("index", "--notes", "/nonexistent/notes", "--db", "sqlite:///:memory:"), "directory not found"),
        (("search", "x", "--db", "postgresql+psycopg://postgres:hidden@127.0.0.1:1/x"), "unavailable"),
        (("search", "x", "--db", "not a url"), "invalid database URL"),
        (("redact", "/nonexistent/in", "/tmp/out-never"), "notes directory not found"),
    ],
)
def test_bad_input_is_one_clear_line(args: tuple[str, ...], message: str) -> None:
    result = run(*args)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0]
    assert "hidden" not in result.stderr


def test_search_without_index_says_how_to_build_it(tmp_path: Path) -> None:
    result = run("search", "x", "--db", f"sqlite:///{tmp_path / 'empty.db'}")
    assert result.returncode == 2
    assert "python -m llm_fallback index" in result.stderr
