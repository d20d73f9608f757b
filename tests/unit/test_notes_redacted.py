"""The shipped notes/ is the redacted copy of ../shared/notes and holds none of their credentials.

The credentials are found by running the redactor on the originals (never written down here).
"""

from pathlib import Path

import pytest

from llm_fallback.knowledge.ingest import read_notes
from llm_fallback.text.redact import redact

ROOT = Path(__file__).resolve().parents[2]
ORIGINALS = ROOT.parent / "shared" / "notes"
SHIPPED = ROOT / "notes"


@pytest.fixture(scope="module")
def originals() -> dict[str, str]:
    if not ORIGINALS.is_dir():
        pytest.fail(f"the original notes are expected at {ORIGINALS} (the shared checkout beside the repo)")
    return {note.path: note.text for note in read_notes(ORIGINALS, include_readme=True)}


def _credentials(text: str) -> list[tuple[str, str]]:
    lines = text.splitlines()
    return [(f.kind, lines[f.line - 1][f.start:f.end]) for f in redact(text).findings]


def test_same_files_and_each_is_the_redacted_original(originals: dict[str, str]) -> None:
    shipped = {note.path: note.text for note in read_notes(SHIPPED, include_readme=True)}
    assert sorted(shipped) == sorted(originals)
    for path, text in originals.items():
        assert shipped[path] == redact(text).text, f"notes/{path} is stale: rerun the redact command"


def test_originals_hold_every_kind_of_credential(originals: dict[str, str]) -> None:
    kinds = {kind for text in originals.values() for kind, _ in _credentials(text)}
    assert {"api_key", "url_password", "setting", "login_password", "signed_url"} <= kinds


def test_no_original_credential_appears_in_shipped_notes(originals: dict[str, str]) -> None:
    files = sorted(path for path in SHIPPED.rglob("*") if path.is_file())
    shipped = "\n".join(path.read_text(encoding="utf-8") for path in files)
    secrets = {value for text in originals.values() for _, value in _credentials(text)}
    # Short values (an access code like a 3-digit number) are not distinctive as substrings; the
    # exact-copy test above proves they were replaced in place.
    distinctive = {value for value in secrets if len(value) >= 8}
    assert distinctive
    for value in distinctive:
        assert value not in shipped


def test_shipped_notes_contain_nothing_left_to_redact() -> None:
    for note in read_notes(SHIPPED, include_readme=True):
        assert redact(note.text).findings == [], note.path
