"""Sources of an answer as data: `{"file", "heading", "lines"}` entries for a message's `custom`.

The action may send them itself (`json_message={"sources": [...]}`); when it only lists them in
the text's last paragraph ("Sources:" / "来源：" then "- file › heading (lines a-b)"), they are read
back from there so every client gets the same structure.
"""

from __future__ import annotations

import re
from typing import Any

_HEADER = re.compile(r"(?:^|\n)\s*(?:Sources:|来源：)\s*\n(?P<items>(?:[ \t]*-[^\n]*(?:\n|$))+)\s*$")
_ITEM = re.compile(
    r"^\s*-\s*(?P<file>[^\n›]+?)(?:\s*›\s*(?P<heading>.+?))?\s*\(lines (?P<lines>\d+-\d+)\)\s*$"
)


def sources_from_text(text: str) -> list[dict[str, Any]]:
    """The structured sources listed at the end of an answer; empty when it lists none."""
    match = _HEADER.search(text or "")
    if not match:
        return []
    found = []
    for line in match.group("items").splitlines():
        item = _ITEM.match(line)
        if item:
            found.append(
                {
                    "file": item["file"].strip(),
                    "heading": (item["heading"] or "").strip(),
                    "lines": item["lines"],
                }
            )
    return found


def with_urls(sources: list[dict[str, Any]], base_url: str) -> list[dict[str, Any]]:
    """Adds a link to each source when the notes are browsable somewhere (GitLab-style line anchors)."""
    if not base_url:
        return sources
    linked = []
    for source in sources:
        entry = dict(source)
        file = str(entry.get("file", ""))
        if file and "url" not in entry:
            start, _, end = str(entry.get("lines", "")).partition("-")
            anchor = f"#L{start}-{end}" if start and end else ""
            entry["url"] = f"{base_url.rstrip('/')}/{file}{anchor}"
        linked.append(entry)
    return linked
