"""Find credentials in note text and replace each with ``[REDACTED]``.

Kinds (checked in this order; where two overlap, the earlier kind names the finding):

- ``api_key``: provider key shapes (``sk-…``, ``ghp_…``, ``hf_…``, ``AKIA…``, JWTs) and other long
  random tokens standing on their own (32+ characters mixing upper case, lower case and digits).
  Tokens inside a URL path are left alone: image and article ids look random but are not secrets.
- ``url_password``: the password of ``user:password@host`` in URLs and DSNs, including the Go-DSN
  form ``user:password@tcp(host)``.
- ``bearer``: the credential after ``Bearer`` / ``Basic`` in an Authorization header.
- ``signed_url``: the whole query string of a URL that carries a signature: a signing parameter
  (``signature``, ``X-Amz-Signature``, ``token``…) or a long random value / bare random component.
  Tracking parameters (``utm_…``, CSDN's request ids, percent-encoded JSON) are not signatures.
- ``setting``: the value of a setting whose name ends in KEY, TOKEN, PASSWORD/PASSWD/PWD, SECRET
  (any case) or CODE (upper case only: ``status_code=200`` is a program value, ``CODE=123`` an
  access code), written ``NAME=value`` or ``NAME: value``; also ``--password value`` style flags
  and ``密码：value``.
- ``login_password``: a bare one-word line right after an ssh / login / su / mysql… command line,
  shaped like a password (6+ characters with a digit, an upper-case letter or a symbol), which is
  how people paste the password they type at the prompt.

Placeholders are kept, because they name a secret rather than being one and redacting them would
only make the notes harder to read: ALL-CAPS words (``ACCESS_TOKEN``, ``EMPTY``), variable
references (``$X``, ``${x.y}``, ``{{x}}``, ``<your-key>``), masks (``xxx``, ``***``), booleans and
null words, common dummy words (``na``, ``dummy``, ``changeme``…), ``[REDACTED]`` itself, and a
known key prefix with a tail shorter than 8 characters (``sk-123``). Any other literal value of a
secret setting is redacted whatever its length: access codes are short (``CODE=123``).

Findings carry the kind, the 1-based line and the column span of the value in the original line,
never the value itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MARK = "[REDACTED]"


@dataclass(frozen=True)
class Finding:
    kind: str
    line: int  # 1-based line of the original text
    start: int  # column span [start, end) of the redacted value in that original line
    end: int


@dataclass(frozen=True)
class RedactionResult:
    text: str
    findings: list[Finding]


_KEY_PREFIXES = r"(?:sk-(?:proj-|ant-)?|ghp_|gho_|github_pat_|hf_|xox[abpr]-|glpat-|AIza)"
_PROVIDER_KEY = re.compile(rf"(?<![\w-]){_KEY_PREFIXES}[A-Za-z0-9_\-]{{8,}}")
_AWS_KEY = re.compile(r"(?<![A-Z0-9])AKIA[0-9A-Z]{16}(?![A-Z0-9])")
_JWT = re.compile(r"(?<![\w-])eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}")
# A standalone run of token characters; judged random by _looks_random.
_TOKEN_RUN = re.compile(r"(?<![\w/.%-])[A-Za-z0-9_\-+]{32,}={0,2}(?![\w/.%-])")
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://[^\s<>\"'`()\]]+")
_URL_USERINFO = re.compile(r"://(?P<user>[^\s:@/'\"]+):(?P<pw>[^\s@/'\"]+)@")
_GO_DSN = re.compile(r"(?<![\w/:.])(?P<user>[\w.\-]+):(?P<pw>[^\s:@/'\"()]+)@(?:tcp|unix)\(")
_BEARER = re.compile(r"\b(?:Bearer|Basic)[ \t]+(?P<v>[A-Za-z0-9._~+/=\-]{6,})")
_SECRET_NAME = r"[A-Za-z0-9_.\-]*(?:key|token|password|passwd|pwd|secret)"
_SETTING = re.compile(
    rf"(?<![\w.\-])(?:(?i:{_SECRET_NAME})|(?:[A-Z0-9_]*_)?CODE)"
    r"(?:[ \t]*=[ \t]*|[ \t]*:[ \t]+)(?P<q>[\"']?)(?P<v>[^\s\"',;&)]+)"
)
_FLAG = re.compile(
    r"--(?:password|passwd|token|api-key|api_key|secret)(?:=|[ \t]+)(?P<q>[\"']?)(?P<v>[^\s\"']+)"
)
_ZH_PASSWORD = re.compile(r"(?:密码|口令)[ \t]*[:：][ \t]*(?P<v>\S+)")
_LOGIN_CMD = re.compile(
    r"^\s*(?:[$#]\s*)?(?:sudo\s+)?(?:ssh|sshpass|sftp|scp|telnet|ftp|mysql|mycli|psql|su|login|docker\s+login)\b"
)
_BARE_WORD = re.compile(r"^\s*(?P<v>\S{6,128})\s*$")
_SIGNING_PARAMS = re.compile(
    r"(?i)^(?:signature|sig|sign|x-amz-signature|x-amz-credential|x-goog-signature|x-goog-credential"
    r"|token|access_token|auth_key|authkey|ossaccesskeyid|accesskeyid|key-pair-id)$"
)
_DUMMY_WORDS = {
    "na", "n/a", "none", "null", "nil", "true", "false", "empty", "dummy", "test", "example",
    "changeme", "placeholder", "secret", "password", "token", "key", "your_key", "yourkey",
}
_PLACEHOLDER = re.compile(
    r"^(?:[A-Z][A-Z0-9_\-]*|\$\{?[\w.\-]+\}?|\{\{?[^}]*\}\}?|<[^>]*>|[xX*.\-]{3,}|\[REDACTED\])$"
)


def _looks_random(value: str) -> bool:
    """Mixed upper, lower and digits, and few repeats: a machine-made token, not a word or path."""
    if not (re.search(r"[a-z]", value) and re.search(r"[A-Z]", value) and re.search(r"\d", value)):
        return False
    return len(set(value)) >= min(16, len(value) // 2)


def is_placeholder(value: str) -> bool:
    """True for values that name a secret instead of being one (see the module docstring)."""
    value = value.strip("\"'")
    if not value or value.lower() in _DUMMY_WORDS or _PLACEHOLDER.match(value):
        return True
    prefix = re.match(_KEY_PREFIXES, value)
    return bool(prefix) and len(value) - prefix.end() < 8


def _signed_query(url: str) -> tuple[int, int] | None:
    """Span of the query string when it carries a signature, else None."""
    qmark = url.find("?")
    if qmark < 0:
        return None
    query = url[qmark + 1:].split("#", 1)[0]
    for part in query.split("&"):
        name, _, value = part.partition("=")
        if not value:  # a bare component: a signature blob when it looks random
            if len(name) >= 24 and _looks_random(name):
                return qmark + 1, qmark + 1 + len(query)
            continue
        if _SIGNING_PARAMS.match(name) and not is_placeholder(value):
            return qmark + 1, qmark + 1 + len(query)
        if "%" not in value and len(value) >= 32 and _looks_random(value):
            return qmark + 1, qmark + 1 + len(query)
    return None


def _spans(text: str) -> list[tuple[int, int, str]]:
    """All (start, end, kind) spans to redact, in absolute offsets of ``text``."""
    spans: list[tuple[int, int, str]] = []

    def add(match: re.Match[str], group: str | int, kind: str) -> None:
        if not is_placeholder(match.group(group)):
            spans.append((match.start(group), match.end(group), kind))

    urls = [(m.start(), m.end()) for m in _URL.finditer(text)]

    def in_url(pos: int) -> bool:
        return any(start <= pos < end for start, end in urls)

    for pattern in (_PROVIDER_KEY, _AWS_KEY, _JWT):
        for m in pattern.finditer(text):
            add(m, 0, "api_key")
    for m in _TOKEN_RUN.finditer(text):
        # Long hyphenated names (Qwen2-72B-Instruct-GPTQ-Int4-…) are words, not one random run.
        longest = max(re.split(r"[-_]", m.group(0)), key=len)
        if not in_url(m.start()) and len(longest) >= 20 and _looks_random(longest):
            spans.append((m.start(), m.end(), "api_key"))
    for pattern in (_URL_USERINFO, _GO_DSN):
        for m in pattern.finditer(text):
            add(m, "pw", "url_password")
    for m in _BEARER.finditer(text):
        add(m, "v", "bearer")
    for start, end in urls:
        span = _signed_query(text[start:end])
        if span:
            spans.append((start + span[0], start + span[1], "signed_url"))
    for pattern in (_SETTING, _FLAG, _ZH_PASSWORD):
        for m in pattern.finditer(text):
            add(m, "v", "setting")
    spans.extend(_login_passwords(text))
    return spans


def _login_passwords(text: str) -> list[tuple[int, int, str]]:
    spans = []
    offset = 0
    previous = ""
    for line in text.splitlines(keepends=True):
        m = _BARE_WORD.match(line)
        if m and _LOGIN_CMD.match(previous):
            value = m.group("v")
            shaped = re.search(r"[\dA-Z]|[^\w\-.]", value) and not value.startswith(("-", "`"))
            if shaped and not is_placeholder(value):
                spans.append((offset + m.start("v"), offset + m.end("v"), "login_password"))
        offset += len(line)
        previous = line
    return spans


def _merge(spans: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    """Union overlapping spans; the first-found kind (the more specific one) names the union."""
    order = {kind: i for i, kind in enumerate(
        ("api_key", "url_password", "bearer", "signed_url", "setting", "login_password"))}
    merged: list[tuple[int, int, str]] = []
    for start, end, kind in sorted(spans, key=lambda s: (s[0], order[s[2]])):
        if merged and start < merged[-1][1]:
            last = merged[-1]
            merged[-1] = (last[0], max(last[1], end), last[2])
        else:
            merged.append((start, end, kind))
    return merged


def redact(text: str) -> RedactionResult:
    """Replace every credential in ``text`` with ``[REDACTED]``; line structure is preserved."""
    spans = _merge(_spans(text))
    line_starts = [0] + [i + 1 for i, ch in enumerate(text) if ch == "\n"]
    findings = []
    pieces = []
    cursor = 0
    line_index = 0
    for start, end, kind in spans:
        while line_index + 1 < len(line_starts) and line_starts[line_index + 1] <= start:
            line_index += 1
        column = start - line_starts[line_index]
        findings.append(Finding(kind, line_index + 1, column, column + end - start))
        pieces.append(text[cursor:start])
        pieces.append(MARK)
        cursor = end
    pieces.append(text[cursor:])
    return RedactionResult("".join(pieces), findings)
