"""Find credentials in text and replace each with ``[REDACTED]``.

Used on the notes before indexing, on questions, on replies, and (from the Rasa server, Python
3.10) on tracker-store events and log lines, so this module is pure standard library and imports
nothing else from ``llm_fallback``.

Matching runs on a normalised view of the text: NFKC (full-width ``ＰＡＳＳＷＯＲＤ＝`` reads as
``PASSWORD=``, ``：`` as ``:``) with invisible format characters removed (zero-width space, joiners,
U+2060, BOM, soft hyphen, bidi marks) and CRLF read as LF, so a key split by U+200B is still one
key. Each finding is mapped back to the original text; the whole original characters behind it
are replaced, invisible ones inside it included, and the line endings are kept as they were.

Kinds (where two overlap, the earlier kind names the finding):

- ``api_key``: provider key shapes (``sk-…``, ``sk-ant-…``, ``sk_live_…``, ``ghp_…``,
  ``github_pat_…``, ``hf_…``, ``xoxb-…``, ``glpat-…``, ``AIza…``, ``AKIA…``/``ASIA…``, Aliyun
  ``LTAI…``, Tencent ``AKID…``, Telegram bot tokens, JWTs); long random tokens standing on their
  own (32+ characters mixing upper case, lower case and digits, outside URL paths); a hex value
  (32+), UUID or random token that follows a secret label on its line without a separator
  (``webhook secret 9f86…``), unless a checksum/commit/id word is the nearer label; the rest of a
  key wrapped onto the next line. Hex standing alone (a commit id, a ``sha256:`` checksum of a
  file, a docker digest) is not a secret: only a secret label or a secret setting name makes it one.
- ``private_key``: the body lines of a ``-----BEGIN … PRIVATE KEY-----`` block.
- ``url_password``: the password in ``scheme://user:password@host`` (empty user, ``/`` and ``@``
  inside the password included), ``user:password@host`` without a scheme, Go DSNs
  (``user:pw@tcp(host)``), ``curl -u user:pw``, ``.pgpass`` lines; a bare random token as the
  URL user (``https://<token>@host``).
- ``bearer``: the credential of an Authorization header (``Bearer``/``Basic`` in any case,
  ``token …``) and of a bare ``bearer xyz``.
- ``signed_url``: the query string of a URL carrying a signature (``Signature=``,
  ``X-Amz-Signature``, ``token``…, or a long random value); the secret path of webhook URLs (Slack,
  Discord, Feishu/Lark bots).
- ``setting``: the value of a setting whose name ends in a secret word, written ``NAME=value``,
  ``NAME: value``, ``name:value``, ``"name": "value"`` (JSON, dicts, subscripts), ``--name value``
  flags, ``setx NAME value``, ``.netrc`` ``password value``, a pasted prompt (``Password for user
  postgres: value``), and Chinese labels (``密码``, ``口令``, ``密钥``, ``秘钥``, ``私钥``, ``令牌``,
  ``提取码``…) followed by ``：``, ``=``, ``是`` or ``为`` (or a space, for a value with letters and
  digits). Quoted values are taken whole, spaces included; an unquoted plain word followed by more
  words is a sentence (``password: ask the admin``), and ``密码为 8 位`` a rule, not a password.
  How much a name says decides what is redacted: password/secret names redact any literal;
  ``*_key``/``*_token`` names any literal but a plain identifier (``memory_key="chat_history"``);
  a bare ``key``/``token``/``pass``/``pwd`` only a credential-shaped value (letters and digits,
  6+); LLM and data-structure names (``eos_token``,
  ``max_token``, ``primary_key``, ``status_code``) are not secret names at all. ``CODE`` counts in
  upper case only (``CODE=123`` is an access code, ``code=200`` a program value); ``sk``/``ak``
  (the AK/SK of Chinese cloud consoles) count like a bare ``key``.
- ``command_password``: passwords given to commands: ``mysql -pPW``, ``sshpass -p PW``,
  ``redis-cli -a PW``, ``docker/podman login -p PW``, ``mongo -p PW``, ``ldapsearch -w PW``,
  ``openssl … pass:PW``, ``wandb login KEY``, ``huggingface-cli login KEY``, ``ngrok … authtoken KEY``.
- ``login_password``: a bare one-word line right after a login command line (ssh, su, mysql…) or
  after a line that ends in a password label (``password:``, ``密码：``), skipping code fences.

Placeholders are kept, because they name a secret rather than being one: ALL-CAPS *words*
(``ACCESS_TOKEN``, ``YOUR_KEY``, ``EMPTY``; a value with digits mixed in, ``HUNTER2X9Q``, is not a
word), variable and template references (``$X``, ``${x.y}``, ``{{x}}``, ``%X%``, ``<your-key>``),
masks (``xxx``, ``***``), booleans, null and type words, dummy words (``na``, ``changeme``…),
``your…`` / ``你的…`` phrases, a known key prefix with a short or masked tail (``sk-123``,
``sk-xxxx…``), ``[REDACTED]`` itself; unquoted code references (``os.getenv(…)``,
``settings.HF_TOKEN``, ``api_key=api_key``) and file paths (``~/.ssh/id_rsa``).

Findings carry the kind, the 1-based line and the column span [start, end) in the original
text's line (before normalisation), never the value itself. A finding never spans lines: a value
wrapped onto the next line gives one finding and one mark per line, so line structure is kept.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import NamedTuple

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


Span = tuple[int, int, str]  # start, end, kind

KINDS = ("api_key", "private_key", "url_password", "bearer", "signed_url", "setting", "command_password",
         "login_password")

# ---------------------------------------------------------------------------------------------
# Normalisation: NFKC plus removal of invisible format characters, with a map back to the original.

# Format characters render as nothing; inside a key they only serve to dodge a pattern.
_INVISIBLE = re.compile(
    "[\u00ad\u034f\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb"
    "\U000e0001\U000e0020-\U000e007f]"
)
# ASCII, CJK ideographs and Hangul syllables are their own NFKC form: copied as they are, so
# only the characters between these runs (punctuation, full-width forms, ...) are looked at one by one.
# (Not \r: a CRLF line ending reads as a bare \n, so line-based rules see Windows text the same way.)
_STABLE_RUN = re.compile(r"[\x00-\x0c\x0e-\x7f\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7a3]+")


class _Segment(NamedTuple):  # a tuple: one is made per punctuation mark of Chinese text
    norm_start: int  # where the segment starts in the normalised text
    orig_start: int  # the original characters it came from: [orig_start, orig_end)
    orig_end: int
    identity: bool  # copied unchanged (character for character), or one normalised cluster


@dataclass(frozen=True)
class _Normalised:
    text: str
    segments: list[_Segment] | None  # None: the text was already normal (identity map)
    norm_starts: list[int] | None  # segment starts, for bisect

    def original(self, start: int, end: int) -> tuple[int, int]:
        """The original span behind ``text[start:end]`` (whole original characters)."""
        if self.segments is None or self.norm_starts is None:
            return start, end
        first = self.segments[bisect_right(self.norm_starts, start) - 1]
        last = self.segments[bisect_right(self.norm_starts, end - 1) - 1]
        orig_start = first.orig_start + (start - first.norm_start if first.identity else 0)
        orig_end = last.orig_start + (end - last.norm_start) if last.identity else last.orig_end
        return orig_start, orig_end


def _normalise(text: str) -> _Normalised:
    """NFKC per character cluster (a character and its combining marks), invisibles dropped.

    Per cluster rather than over the whole string so every output character maps to the original
    characters it came from; this equals whole-string NFKC except for rare compositions across
    clusters (conjoining Hangul jamo, a mark separated from its letter by an invisible).
    """
    if "\r\n" not in text and (text.isascii() or (
            not _INVISIBLE.search(text) and unicodedata.is_normalized("NFKC", text))):
        return _Normalised(text, None, None)
    out: list[str] = []
    segments: list[_Segment] = []
    size = 0  # length of the normalised text so far

    def emit(piece: str, orig_start: int, orig_end: int, identity: bool) -> None:
        nonlocal size
        if piece:  # an invisible character maps to nothing and gets no segment
            out.append(piece)
            segments.append(_Segment(size, orig_start, orig_end, identity))
            size += len(piece)

    cursor = 0
    for run in _STABLE_RUN.finditer(text):
        stop = run.end()
        if stop < len(text) and unicodedata.combining(text[stop]):
            stop -= 1  # the last character takes the combining mark after it
        _normalise_clusters(text, cursor, run.start(), emit)
        emit(text[run.start():stop], run.start(), stop, True)
        cursor = max(cursor, stop)
    _normalise_clusters(text, cursor, len(text), emit)
    return _Normalised("".join(out), segments, [seg.norm_start for seg in segments])


def _normalise_clusters(text: str, start: int, end: int, emit: Callable[[str, int, int, bool], None]) -> None:
    """Normalise ``text[start:end]`` cluster by cluster."""
    i = start
    while i < end:
        j = i + 1
        while j < end and unicodedata.combining(text[j]):
            j += 1
        cluster = text[i:j]
        if cluster == "\r":
            emit("" if text.startswith("\n", j) else "\r", i, j, False)
        else:
            emit(_nfkc_cluster(cluster), i, j, False)
        i = j


_CLUSTER_CACHE: dict[str, str] = {}


def _nfkc_cluster(cluster: str) -> str:
    """NFKC of one cluster without its invisible characters; cached, as text repeats its punctuation."""
    norm = _CLUSTER_CACHE.get(cluster)
    if norm is None:
        visible = _INVISIBLE.sub("", cluster)
        norm = unicodedata.normalize("NFKC", visible) if visible else ""
        if len(_CLUSTER_CACHE) < 4096:
            _CLUSTER_CACHE[cluster] = norm
    return norm


# ---------------------------------------------------------------------------------------------
# Placeholders and value shapes.

_KEY_PREFIX = re.compile(
    r"(?:sk-(?:proj-|ant-|svcacct-)?|sk_live_|sk_test_|rk_live_|ghp_|gho_|ghu_|ghs_|ghr_|github_pat_|hf_"
    r"|xox[abposr]-|glpat-|AIza|npm_|pypi-|dckr_pat_|gsk_|GOCSPX-)"
)
_DUMMY_WORDS = {
    "na", "n/a", "none", "null", "nil", "true", "false", "yes", "no", "empty", "dummy", "test", "example",
    "changeme", "placeholder", "secret", "password", "passwd", "pwd", "pass", "token", "key", "apikey",
    "your_key", "yourkey", "str", "string", "int", "bytes", "bool", "optional", "secretstr", "required",
    "unset", "blank", "hidden", "masked", "redacted", "omitted", "lambda", "self", "undefined", "pw",
    "密码", "密钥", "秘钥", "口令", "令牌", "无", "空",
}
_PLACEHOLDER = re.compile(
    r"""^(?:
        [A-Z]+(?:[_\-][A-Z]+)*                           # ALL-CAPS word: ACCESS_TOKEN, EMPTY (no digits)
      | \$[{]?[\w.\-]*\}? | \$\(.*                       # $X, ${x.y}, $(command)
      | \{\{?[^}]*\}?\}? | \{%.*                         # {x}, {{ x }}, {% x %}
      | %\(?\w+\)?[sd%]? | %\w+%                         # %(x)s, %X%
      | <[^>]*>?                                         # <your-key>
      | [xX*•.\-_#?]{3,}                                 # masks: xxx, ***, ...
      | \[REDACTED\]?                                    # our mark (a bare value stops at its "]")
      | :\w+ | @[A-Za-z_]\w* | \?                        # bind parameters
      | (?i:your|insert|replace|enter|put)[-_ .][\w\-. ]* # your_api_key_here, <enter your key>
      | (?i:your)(?:api)?(?:key|token|password|secret)\w*  # yourkey, yourtoken
      | \(.*                                             # (none), (see the vault)
      | (?:你的|您的|自己的|填写|填入|替换|输入|请输入|请填写).*
    )$""",
    re.VERBOSE,
)
_SNAKE_WORD = re.compile(r"^[a-z]+(?:_[a-z]+)*$")
# A short example cut off with an ellipsis (TOKEN=123456:ABC...) shows the shape of a secret.
_ELIDED = re.compile(r"^.{0,12}(?:\.\.\.|…)$")
_ALNUM = re.compile(r"[A-Za-z0-9]")
# A variable named like a secret (api_key=api_key, password=db_password) refers to one.
_SECRET_VARIABLE = re.compile(r"^[a-z_]*(?:key|token|password|passwd|pwd|secret|pass)$")
# Unquoted code: a call or subscript (os.getenv(...), environ[...], Optional[str]) or a dotted
# attribute path (settings.HF_TOKEN). Function names here have no digits and start in lower case,
# so a password like Hx9(kL2m or abc.Def1!x does not pass for code.
_CODE = re.compile(
    r"^(?:[a-z_][a-z_]*(?:\.[A-Za-z_]\w*)*[(\[]|[A-Z][A-Za-z]*\[|(?:[A-Z][a-z]+)+\("
    r"|[a-z_][a-z_]*(?:\.[A-Za-z_]\w*)+$)"
)
# A file path or file name refers to where a secret is kept, not to the secret.
_PATH = re.compile(r"^(?:~|\.{1,2})?/[\w.\-]+(?:/[\w.\-]*)+$|^[A-Za-z]:\\"
                   r"|^[\w.\-]+\.(?:pem|key|crt|pub|p12|pfx|der|json|txt|env|ya?ml|ini|cfg|conf)$")
_VERSION = re.compile(r"^v?\d+(?:\.\d+)+[\w.+\-]*$")


def is_placeholder(value: str) -> bool:
    """True for values that name a secret instead of being one (see the module docstring)."""
    value = value.strip("\"'`“”‘’")
    if _ELIDED.match(value):
        return True
    value = value.rstrip(",;:.")  # "KEY," and "PW:" end a sentence, not a value
    if not value or value.lower() in _DUMMY_WORDS or _PLACEHOLDER.match(value):
        return True
    prefix = _KEY_PREFIX.match(value)
    if prefix:
        tail = value[prefix.end():]
        return len(tail) < 8 or bool(_PLACEHOLDER.match(tail)) or not _keyish(tail)
    return False


_DIGIT = re.compile(r"\d")
_LOWER = re.compile(r"[a-z]")
_UPPER = re.compile(r"[A-Z]")


def _keyish(tail: str) -> bool:
    """A key body has digits or mixed case; ``hf_hub_download`` is a function name."""
    return bool(_DIGIT.search(tail) or (_LOWER.search(tail) and _UPPER.search(tail)))


def _looks_random(value: str) -> bool:
    """Mixed upper, lower and digits, and few repeats: a machine-made token, not a word or path."""
    if not (_LOWER.search(value) and _UPPER.search(value) and _DIGIT.search(value)):
        return False
    return len(set(value)) >= min(16, len(value) // 2)


def _credential_shaped(value: str) -> bool:
    """What a bare ``key``/``token``/``pass`` value must look like to count: 6+ characters with
    letters and digits, or symbols; not a number, version, word or URL."""
    if len(value) < 6 or "://" in value or _VERSION.match(value) or _SNAKE_WORD.match(value):
        return False
    if re.fullmatch(r"[0-9a-f]{1,31}", value):
        return False  # a short hex id (key: c6021c45c8), not a key; hex keys are 32+
    has_letter = re.search(r"[A-Za-z]", value)
    return bool(has_letter and (re.search(r"\d", value) or re.search(r"[!@#$%^&*+=?~]", value)))


# ---------------------------------------------------------------------------------------------
# Detectors. Each takes the normalised text and yields (start, end, kind) spans in it.

_PROVIDER_KEY = re.compile(rf"(?<![\w-]){_KEY_PREFIX.pattern}[A-Za-z0-9_\-]{{8,}}")
# Pattern tables, here and above, alike in shape only (duplicates: justified): one regex per kind of secret.
_CLOUD_KEY = re.compile(
    r"(?<![A-Za-z0-9])(?:(?:AKIA|ASIA)[0-9A-Z]{16}|LTAI[A-Za-z0-9]{12,28}|AKID[A-Za-z0-9]{32})(?![A-Za-z0-9])"
)
_TELEGRAM = re.compile(r"(?<!\d)\d{8,10}:[A-Za-z0-9_\-]{35}(?![A-Za-z0-9_\-])")
_JWT = re.compile(r"(?<![\w-])eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}")
_TOKEN_RUN = re.compile(r"(?<![\w/.%-])[A-Za-z0-9_\-+]{32,}={0,2}(?![\w/.%-])")
_LABELLED_VALUE = re.compile(
    r"(?<![\w/.%@-])(?:[0-9a-f]{32,}|[0-9A-F]{32,}|[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}"
    r"|[A-Za-z0-9_\-+]{16,}={0,2})(?![\w/.%-])"
)
# The nearest of these before a value on its line says what the value is.
_LABEL = re.compile(
    r"(?i)(?<![a-z])(?:(?P<secret>password|passwd|passphrase|pwd|secret|token|key|apikey|credentials?"
    r"|sessionid|cookie)|(?P<neutral>sha\d*(?:sum)?|md5(?:sum)?|checksum|hash|digest|commit|revision|rev|id"
    r"|uuid|request|trace|fingerprint|integrity|etag|base64|checkout|cherry-pick|ssh-(?:rsa|ed25519|dss)"
    r"|ecdsa-sha2-nistp\d+|pub(?:lic)?[ _\-]?key))(?![a-z])"
    r"|(?P<zh_secret>密码|口令|密钥|秘钥|私钥|令牌|凭证|凭据)|(?P<zh_neutral>校验|哈希|摘要|提交|指纹)"
)
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://[^\s<>\"'`()\]]+")


def _line_before(text: str, pos: int, window: int = 80) -> str:
    """Up to ``window`` characters before ``pos`` on its line: a label labels what follows it closely
    (and a bounded look-back keeps a long line of candidates linear)."""
    return text[max(text.rfind("\n", max(0, pos - window), pos) + 1, pos - window):pos]


def _label_before(text: str, pos: int) -> str | None:
    """'secret', 'neutral' or None: the kind of the nearest label word before ``pos`` on its line."""
    labels = list(_LABEL.finditer(_line_before(text, pos)))
    if not labels:
        return None
    last = labels[-1]
    return "secret" if last.group("secret") or last.group("zh_secret") else "neutral"


def _url_spans(text: str) -> list[tuple[int, int]]:
    return [(m.start(), m.end()) for m in _URL.finditer(text)]


def _in_any(pos: int, spans: list[tuple[int, int]]) -> bool:
    """Whether ``pos`` lies in one of the sorted, disjoint ``spans``."""
    i = bisect_right(spans, (pos, float("inf"))) - 1
    return i >= 0 and spans[i][0] <= pos < spans[i][1]


def _api_keys(text: str) -> Iterator[Span]:
    for pattern in (_PROVIDER_KEY, _CLOUD_KEY, _TELEGRAM, _JWT):
        for m in pattern.finditer(text):
            if not is_placeholder(m.group()):
                yield m.start(), m.end(), "api_key"
    urls = _url_spans(text) if "://" in text else []
    for m in _TOKEN_RUN.finditer(text):
        # Long hyphenated names (Qwen2-72B-Instruct-GPTQ-Int4-…) are words, not one random run;
        # image and article ids in URL paths look random but are not secrets; a run a checksum,
        # commit or data-URI word labels is a digest, not a credential.
        longest = max(re.split(r"[-_]", m.group()), key=len)
        if (len(longest) >= 20 and _looks_random(longest) and not _in_any(m.start(), urls)
                and _label_before(text, m.start()) != "neutral"):
            yield m.start(), m.end(), "api_key"
    for m in _LABELLED_VALUE.finditer(text):
        value = m.group()
        longest = max(re.split(r"[-_]", value), key=len)
        random_enough = re.fullmatch(r"[0-9a-fA-F\-]+", value) or _looks_random(longest)
        if (random_enough and not is_placeholder(value) and not _in_any(m.start(), urls)
                and _label_before(text, m.start()) == "secret"):
            yield m.start(), m.end(), "api_key"


_PEM_BEGIN = re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----[ \t]*\n")
_PEM_LINE = re.compile(r"[ \t]*(?!-----END)(?P<v>[^\s][^\n]*?)[ \t]*(?:\n|$)")


def _private_keys(text: str) -> Iterator[Span]:
    if "-----BEGIN" not in text:
        return
    for begin in _PEM_BEGIN.finditer(text):
        pos = begin.end()
        while m := _PEM_LINE.match(text, pos):
            if m.group("v") != MARK:
                yield m.start("v"), m.end("v"), "private_key"
            pos = m.end()


_HOST = r"(?:[A-Za-z0-9\-.]+|\[[0-9A-Fa-f:]+\])"
_URL_USERINFO = re.compile(
    rf"://(?P<user>[^\s:@/'\"`<>]{{0,64}}):(?P<pw>[^\s'\"`<>]{{1,128}})@(?={_HOST}(?::\d+)?(?:[/?#\s'\"`<>),;]|$))"
)
_URL_TOKEN_USER = re.compile(r"://(?P<pw>[A-Za-z0-9_\-]{20,})@")
_BARE_USERINFO = re.compile(
    rf"(?<![\w/:.@\-%$])(?P<user>[A-Za-z0-9_.\-]{{1,64}}):(?!//)(?P<pw>[^\s'\"`<>]{{1,128}})@(?P<host>{_HOST})"
    r"(?P<port>:\d{2,5}\b)?(?=[:/\s'\"`),;]|$)"
)
_GO_DSN = re.compile(r"(?<![\w/:.])(?P<user>[\w.\-]{1,64}):(?P<pw>[^\s'\"`<>]{1,128})@(?:tcp|unix)\(")
_CURL_USER = re.compile(
    r"\b(?:curl|wget|http|https|xh)\b[^\n]{0,200}?\s(?:-u|--user)(?:[ \t]+|=)[\"']?"
    r"(?P<user>[^\s:'\"]{1,64}):(?P<pw>[^\s'\"]{1,128})"
)
# ~/.pgpass: host:port:database:user:password
_PGPASS = re.compile(
    r"(?m)^(?P<host>[\w.\-*]*[A-Za-z*][\w.\-*]*):(?:\d+|\*):[\w.\-*]+:[\w.\-*]+:(?P<pw>\S+)$"
)
_NOT_USERS = {"mailto", "email", "e-mail", "mail", "from", "to", "cc", "bcc", "author", "contact", "reply-to"}
_HASH_NAMES = {"sha1", "sha256", "sha384", "sha512", "md5"}


def _url_passwords(text: str) -> Iterator[Span]:
    # Cheap tests first: most lines have no "@", no curl/wget and no four colons.
    patterns = [_URL_USERINFO, _GO_DSN] if "@" in text else []
    patterns += [_CURL_USER] if ("-u" in text or "--user" in text) else []
    patterns += [_PGPASS] if text.count(":") >= 4 else []
    for pattern in patterns:
        for m in pattern.finditer(text):
            # host:8080/path@x is a port and a path, not user:password
            if not is_placeholder(m.group("pw")) and not re.match(r"\d{1,5}/", m.group("pw")):
                yield m.start("pw"), m.end("pw"), "url_password"
    for m in _URL_TOKEN_USER.finditer(text):
        if _looks_random(m.group("pw")) or re.fullmatch(r"[0-9a-f]{32,}", m.group("pw")):
            yield m.start("pw"), m.end("pw"), "url_password"
    for m in _BARE_USERINFO.finditer(text) if "@" in text else ():
        host = m.group("host")
        # image:tag@sha256:… is a digest, not user:password@host
        looks_host = "." in host or host == "localhost" or (
            m.group("port") and host.lower() not in _HASH_NAMES)
        if (looks_host and m.group("user").lower() not in _NOT_USERS and not is_placeholder(m.group("pw"))
                and not re.match(r"\d{1,5}/", m.group("pw"))):
            yield m.start("pw"), m.end("pw"), "url_password"


_BEARER = re.compile(r"(?i)\b(?:bearer|basic)[ \t]+(?P<v>[A-Za-z0-9._~+/=\-]{6,})")
_AUTHORIZATION = re.compile(
    r"(?i)\bauthorization[\"']?[ \t]*[:=][ \t]*[\"']?(?:(?:token|bot|apikey|key|sso-key)[ \t]+)?"
    r"(?P<v>[A-Za-z0-9._~+/=\-:]{8,})"
)
_BEARER_HINT = re.compile(r"(?i)bearer|basic|authorization")
_AUTH_SCHEMES = {"bearer", "basic", "token", "digest", "negotiate", "bot", "apikey", "key"}


def _bearers(text: str) -> Iterator[Span]:
    if not _BEARER_HINT.search(text):
        return
    for pattern in (_BEARER, _AUTHORIZATION):
        for m in pattern.finditer(text):
            value = m.group("v")
            # "bearer tokens", "Basic authentication", "Bearer not-a-token": prose, not a credential;
            # 'Bearer realm="x"' is a challenge parameter
            plain_word = re.fullmatch(r"[A-Za-z][a-z]{0,19}(?:-[a-z]+)*-?=?", value)
            if value.lower() not in _AUTH_SCHEMES and not plain_word and not is_placeholder(value):
                yield m.start("v"), m.end("v"), "bearer"


_SIGNING_PARAMS = re.compile(
    r"(?i)^(?:signature|sig|sign|x-amz-signature|x-amz-credential|x-goog-signature|x-goog-credential"
    r"|token|access_token|auth_key|authkey|ossaccesskeyid|accesskeyid|key-pair-id)$"
)
_WEBHOOK = re.compile(
    r"(?:hooks\.slack\.com/services|discord(?:app)?\.com/api/webhooks|open\.(?:feishu\.cn|larksuite\.com)"
    r"/open-apis/bot/v2/hook)/(?P<v>[\w\-/]+)"
)


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


def _signed_urls(text: str) -> Iterator[Span]:
    if "://" not in text:
        return
    for start, end in _url_spans(text):
        span = _signed_query(text[start:end])
        if span:
            yield start + span[0], start + span[1], "signed_url"
    for m in _WEBHOOK.finditer(text):
        yield m.start("v"), m.end("v"), "signed_url"


# Values: quoted whole (spaces included), else a run that ends at whitespace, a quote, CJK text, or
# at , ; & ) ] } > where they end the value rather than belong to it (a=1&b=2, f(pw=x), pw=x;db=y).
# Wider than text/lang.CJK on purpose (kana, Hangul, CJK punctuation, full-width forms); this
# module is stdlib-only and imports nothing from llm_fallback (the Rasa env loads it alone).
_CJK = "\u3000-\u303f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef"
_BARE = (rf"(?:[^\s\"'`,;&)\]}}>{_CJK}“”‘’「」]|[,;](?![\s,;{_CJK}]|$|[\w.\-]+=)|&(?![\w.\-]+=)"
         r"|[)\]}>](?=[^\s,;)\]}>\"'`.:]))+")
_VALUE = (r"(?:(?P<q>[\"'`])(?P<qv>(?:(?!(?P=q))[^\n])*)(?P=q)"
          r"|[“‘「『](?P<cv>[^”’」』\n]*)[”’」』]"
          rf"|(?P<bv>{_BARE}))")
# sk/ak: the "SecretKey/AccessKey" shorthand of Chinese cloud consoles (AK/SK).
_SECRET_WORDS = (r"password|passwd|passwort|passphrase|pwd|pass|secret|token|key|apikey|credentials?|code"
                 r"|sk|ak")
_SETTING = re.compile(
    rf"(?<![\w.\-$/])(?P<name>[A-Za-z0-9_.\-]{{0,60}}?(?i:{_SECRET_WORDS}))[\"'`\]*]{{0,3}}"
    rf"[ \t]*(?P<sep>:=|=>|===|==|=|:)[ \t]*{_VALUE}"
)
_FLAG = re.compile(
    rf"(?<![\w-])--(?P<name>[A-Za-z0-9][\w\-]{{0,40}}?(?i:{_SECRET_WORDS}))(?:=|[ \t]+){_VALUE}"
)
_SETX = re.compile(rf"\bsetx[ \t]+(?P<name>\w+)[ \t]+{_VALUE}")
_NETRC = re.compile(rf"\bmachine[ \t]+\S+(?:[ \t]+login[ \t]+\S+)?[ \t]+password[ \t]+{_VALUE}")
# psql's and sudo's prompts, pasted with what was typed: "Password for user postgres: …"
_PROMPT = re.compile(rf"(?i)\bpassword for (?:user )?[\w.@\-]+[ \t]*:[ \t]*{_VALUE}")
_ZH_LABELS = r"密码|口令|密钥|秘钥|私钥|令牌|提取码|访问码|授权码|邀请码|验证码"
_ZH_SETTING = re.compile(
    rf"(?:{_ZH_LABELS})\)?[ \t]*(?:(?:都|均)?(?:是|为)[ \t]*[:=]?|[:=])[ \t]*{_VALUE}"
)
_ZH_SPACED = re.compile(rf"(?:{_ZH_LABELS})[ \t]+(?P<bv>[A-Za-z0-9!@#$%^&*+=?~_\-./]{{4,}})(?![^\s,;{_CJK}])")


# Cheap searches that rule a pattern out before its full (slower) form runs.
_SETTINGS_HINT = {
    _FLAG: re.compile("--"), _SETX: re.compile("setx"), _NETRC: re.compile("machine"),
    _PROMPT: re.compile("(?i)password for"), _ZH_SETTING: re.compile(_ZH_LABELS),
}


def _value_group(m: re.Match[str]) -> tuple[str, bool]:
    """The matched value group's name and whether it was quoted."""
    for group in ("qv", "cv", "bv"):
        if m.group(group) is not None:
            return group, group != "bv"
    raise AssertionError("value pattern matched no group")


# Name words that make ``*_key`` / ``*_token`` a data-structure or LLM term, not a credential.
_BENIGN_KEY_PREFIXES = {
    "primary", "foreign", "sort", "partition", "cache", "dict", "lora", "query", "value", "input", "output",
    "memory", "text", "page", "hot", "row", "group", "index", "lookup", "unique", "composite", "object",
    "bucket", "file", "map", "json", "dataset", "label", "image", "feature", "metadata", "doc", "document",
    "field", "column", "hash", "range", "shard", "routing", "kv", "attention", "cluster", "model", "sub",
    "child", "parent", "public", "pub", "prompt", "context", "message", "response", "result", "search",
    "order", "join", "redis", "s3", "state", "dim", "head", "layer", "vocab", "embedding", "config",
    "eos", "bos", "pad", "unk", "sep", "cls", "mask", "special", "max", "min", "num", "stop", "start",
    "end", "vision", "audio", "video", "chat", "think", "new", "total", "completion", "first", "last",
    "next", "prev", "split", "default", "added", "extra", "sentinel", "eot", "im", "decoder", "encoder",
    "n", "count", "per", "reasoning", "cached", "generated", "sample", "bpe", "word", "sub_word",
}
_CODE_PREFIXES = {"access", "auth", "invite", "invitation", "verify", "verification", "pin", "otp", "secret",
                  "security", "pass", "activation", "license"}
_STRONG_WORDS = ("password", "passwd", "passwort", "passphrase", "secret")


def _name_strength(name: str) -> str | None:
    """'strong', 'medium', 'weak' or None (not a secret name); see the module docstring."""
    name = name.rsplit(".", 1)[-1]  # pair.key is a key; spring.datasource.password a password
    tail = re.search(rf"(?i)(?:{_SECRET_WORDS})$", name)
    if tail is None:
        return None
    word, head = tail.group().lower(), name[:tail.start()]
    if word in _STRONG_WORDS:
        return "strong"  # "dbpassword", "AppSecret": these words name a secret wherever they stand
    if word.startswith("credential"):
        return "medium"  # code says credential=name, per_credential=... about credential handling
    camel = bool(head) and head[-1].islower() and name[tail.start()].isupper()
    boundary = not head or head[-1] in "_.-" or camel
    if not boundary:
        return "strong" if name.lower() in ("passcode", "apikey") else None
    words = [w for w in re.split(r"[_.\-]|(?<=[a-z])(?=[A-Z])", head) if w]
    prefix = words[-1].lower() if words else ""
    if word == "code":
        return "strong" if name == "CODE" or prefix in _CODE_PREFIXES else None
    if word in ("pass", "pwd"):
        return "strong" if head else "weak"  # PWD=/root is the shell's working directory
    if word in ("sk", "ak"):
        return "weak"
    if word == "apikey":
        return "strong"
    if prefix in _BENIGN_KEY_PREFIXES:
        return None
    return "medium" if head else "weak"


def _accept(value: str, strength: str, quoted: bool) -> bool:
    """Whether a setting's value is a literal credential at this name strength."""
    if is_placeholder(value) or value.startswith("-") or _PATH.match(value) or not _ALNUM.search(value):
        return False
    if not quoted and (_CODE.match(value) or _SECRET_VARIABLE.match(value)):
        return False
    if strength == "medium":  # a plain identifier, class name or small count is a program value
        return not (_SNAKE_WORD.match(value) or re.fullmatch(r"\d{1,4}|(?:[A-Z][a-z]+)+", value))
    if strength == "weak":
        return _credential_shaped(value) or (len(value) >= 16 and _looks_random(value))
    return True


def _prose_follows(text: str, m: re.Match[str]) -> bool:
    """``password: ask the admin``, ``SECRET: Rasa's API``: an unquoted plain word followed by more
    words (or a possessive) is a sentence, not a value."""
    value = m.group("bv")
    if not value or not re.fullmatch(r"[A-Za-z][a-z]{0,11}", value):
        return False
    return bool(re.match(r"[ \t]+[A-Za-z]+\b|'s\b", text[m.end():]))


def _settings(text: str) -> Iterator[Span]:
    for pattern in (_SETTING, _FLAG, _SETX):
        if pattern is not _SETTING and not _SETTINGS_HINT[pattern].search(text):
            continue
        for m in pattern.finditer(text):
            strength = _name_strength(m.group("name"))
            group, quoted = _value_group(m)
            if strength is None or not m.group(group):
                continue
            if pattern is _SETTING and m.group("sep") == ":" and _prose_follows(text, m):
                continue
            if _accept(m.group(group), strength, quoted):
                yield m.start(group), m.end(group), "setting"
    for pattern in (_NETRC, _PROMPT, _ZH_SETTING):
        if not _SETTINGS_HINT[pattern].search(text):
            continue
        for m in pattern.finditer(text):
            group, quoted = _value_group(m)
            value = m.group(group)
            # "密码为 8 位以上": a count followed by a Chinese word is a rule, not a password
            count = re.fullmatch(r"\d{1,2}", value) and re.match(rf"[ \t]*[{_CJK}]", text[m.end():])
            if value and not count and _accept(value, "strong", quoted):
                yield m.start(group), m.end(group), "setting"
    for m in _ZH_SPACED.finditer(text) if _SETTINGS_HINT[_ZH_SETTING].search(text) else ():
        value = m.group("bv")
        if re.search(r"\d", value) and re.search(r"[A-Za-z]", value) and not is_placeholder(value):
            yield m.start("bv"), m.end("bv"), "setting"


# A command argument: quoted whole, or up to whitespace.
_ARG = r"(?P<q>[\"'])?(?P<v>(?(q)[^\n]{0,128}?|[^\s\"'`]{1,128}))(?(q)(?P=q))"
_COMMAND_PASSWORDS = [
    # mysql -pPW: attached only; "-p" alone makes mysql prompt, and the next word is the database
    re.compile(r"\b(?:mysql|mysqldump|mysqladmin|mysqlimport|mysqlcheck|mysqlsh|mariadb|mariadb-dump|mycli)\b"
               rf"[^\n]{{0,200}}?[ \t]-p(?=[^\s]){_ARG}"),
    re.compile(rf"\bsshpass\b[^\n]{{0,200}}?[ \t]-p[ \t]*{_ARG}"),
    re.compile(rf"\bredis-cli\b[^\n]{{0,200}}?[ \t](?:-a|--pass)[ \t]+{_ARG}"),
    re.compile(r"\b(?:docker|podman|nerdctl|buildah|skopeo|helm)\b[^\n]{0,100}?\blogin\b[^\n]{0,200}?"
               rf"[ \t](?:-p|--password)(?:[ \t]+|=){_ARG}"),
    re.compile(r"\bmongo(?:sh|dump|restore|import|export)?\b[^\n]{0,200}?"
               rf"[ \t](?:-p|--password)(?:[ \t]+|=){_ARG}"),
    re.compile(rf"\bldap\w+\b[^\n]{{0,200}}?[ \t]-w[ \t]+{_ARG}"),
    re.compile(rf"-pass(?:in|out|word)?[ \t]+pass:{_ARG}"),
    # API-key logins that take the key as a plain argument
    re.compile(rf"\b(?:wandb|huggingface-cli|hf(?:[ \t]+auth)?)[ \t]+login[ \t]+(?:--relogin[ \t]+)?{_ARG}"),
    re.compile(rf"\bngrok\b[^\n]{{0,200}}?\b(?:add-)?authtoken[ \t]+{_ARG}"),
]


_COMMAND_HINT = re.compile(r"mysql|mariadb|mycli|sshpass|redis-cli|login|mongo|ldap|pass:|ngrok")


def _command_passwords(text: str) -> Iterator[Span]:
    if not _COMMAND_HINT.search(text):
        return
    for pattern in _COMMAND_PASSWORDS:
        for m in pattern.finditer(text):
            value = m.group("v")
            if value and not value.startswith("-") and not is_placeholder(value):
                yield m.start("v"), m.end("v"), "command_password"


_LOGIN_CMD = re.compile(
    r"^\s*(?:[$#>]\s*)?(?:sudo\s+)?(?:ssh|sshpass|sftp|scp|telnet|ftp|mysql|mycli|psql|mongo|mongosh|redis-cli"
    r"|su|login|passwd|kinit|(?:docker|podman)\s+login)\b"
)
_LABEL_ONLY = re.compile(
    r"(?i)(?:^|[\s*>#|(\-])(?P<label>password|passwd|passphrase|pwd|secret|token|api[ _\-]?key"
    rf"|secret[ _\-]?key|access[ _\-]?key|{_ZH_LABELS})[*`]*[ \t]*(?:[:=]|是|为)[*`]*[ \t]*$"
)
_BARE_WORD = re.compile(r"^[ \t]*(?:[-*>][ \t]+)?[`\"']?(?P<v>[^\s`\"']{4,128})[`\"']?[ \t]*$")
_FENCE = re.compile(r"^[ \t]*(?:```|~~~)")


def _lines(text: str) -> list[tuple[int, str]]:
    """(offset, line without its newline) for every line."""
    out, offset = [], 0
    for line in text.split("\n"):
        out.append((offset, line))
        offset += len(line) + 1
    return out


def _login_passwords(text: str) -> Iterator[Span]:
    if "\n" not in text:  # a value on the next line needs a next line
        return
    lines = _lines(text)
    for i, (_, line) in enumerate(lines):
        after_login = bool(_LOGIN_CMD.match(line))
        label = _LABEL_ONLY.search(line) if not after_login else None
        if not after_login and label is None:
            continue
        for offset, nxt in lines[i + 1:i + 4]:
            if _FENCE.match(nxt) or (label is not None and not nxt.strip()):
                continue  # a label's value may sit in a code block or after a blank line
            m = _BARE_WORD.match(nxt)
            if m and _next_line_value(m.group("v"), after_login, label):
                yield offset + m.start("v"), offset + m.end("v"), "login_password"
            break


def _next_line_value(value: str, after_login: bool, label: re.Match[str] | None) -> bool:
    if is_placeholder(value) or re.search(f"[{_CJK}]", value) or value.startswith(("-", "$", "#")):
        return False
    if after_login:  # the password typed at the prompt: 6+ characters with a digit, capital or symbol
        return len(value) >= 6 and bool(re.search(r"[\dA-Z]|[^\w\-.]", value))
    word = label.group("label").lower() if label else ""
    if re.match(r"(?i)pass|pwd|secret|密码|口令|私钥", word):
        return True
    return _credential_shaped(value)


_CONTINUATION = re.compile(r"[ \t]*(?P<v>[A-Za-z0-9_\-+/=]{6,})[ \t]*(?:\n|$)")


def _continues_key(value: str) -> bool:
    """A line holding only the wrapped rest of a key: random-looking, not a word or a name like
    ``Qwen2-7B`` or ``nvidia-smi`` (the next command after an ``export KEY=…`` line)."""
    longest = max(re.split(r"[-_]", value), key=len)
    if len(longest) < 6 or is_placeholder(value):
        return False
    return _looks_random(longest) or (_keyish(longest) and len(value) >= 12)


def _continuations(text: str, spans: list[Span]) -> Iterator[Span]:
    """The rest of a key wrapped onto the next line(s), following a key that ends its line."""
    for start, end, kind in spans:
        while kind in ("api_key", "setting", "bearer") and end - start >= 16 and text.startswith("\n", end):
            if not re.fullmatch(r"[A-Za-z0-9_\-+/=.:]+", text[start:end]):
                break
            m = _CONTINUATION.match(text, end + 1)
            if not m or not _continues_key(m.group("v")):
                break
            yield m.start("v"), m.end("v"), kind
            start, end = m.start("v"), m.end("v")


_DETECTORS: tuple[Callable[[str], Iterator[Span]], ...] = (
    _api_keys, _private_keys, _url_passwords, _bearers, _signed_urls, _settings, _command_passwords,
    _login_passwords,
)


def _spans(text: str) -> list[Span]:
    """All (start, end, kind) spans to redact, in offsets of ``text`` (the normalised text)."""
    spans = [span for detect in _DETECTORS for span in detect(text) if span[1] > span[0]]
    if "\n" in text:
        spans.extend(_continuations(text, spans))
    return spans


def _merge(spans: list[Span]) -> list[Span]:
    """Union overlapping spans; the first-found kind (the more specific one) names the union."""
    order = {kind: i for i, kind in enumerate(KINDS)}
    merged: list[Span] = []
    for start, end, kind in sorted(spans, key=lambda s: (s[0], order[s[2]])):
        if merged and start < merged[-1][1]:
            last = merged[-1]
            merged[-1] = (last[0], max(last[1], end), last[2])
        else:
            merged.append((start, end, kind))
    return merged


def _split_at_lines(text: str, spans: list[Span]) -> list[Span]:
    """One span per line, so each line gets its own mark and the line structure is kept."""
    out: list[Span] = []
    for start, end, kind in spans:
        while start < end:
            newline = text.find("\n", start, end)
            stop = end if newline < 0 else newline
            piece = text[start:stop]
            if piece.strip():
                out.append((start, stop - (len(piece) - len(piece.rstrip("\r"))), kind))  # keep CRLF
            start = stop + 1 if newline >= 0 else end
    return out


def redact(text: str) -> RedactionResult:
    """Replace every credential in ``text`` with ``[REDACTED]``; line structure is preserved."""
    norm = _normalise(text)
    spans = [(*norm.original(start, end), kind) for start, end, kind in _spans(norm.text)]
    if not spans:
        return RedactionResult(text, [])
    findings = []
    pieces = []
    cursor = 0
    line, line_start = 1, 0  # advanced incrementally: spans come sorted, and a text may hold many
    for start, end, kind in _split_at_lines(text, _merge(spans)):
        newlines = text.count("\n", cursor, start)
        if newlines:
            line += newlines
            line_start = text.rfind("\n", cursor, start) + 1
        findings.append(Finding(kind, line, start - line_start, end - line_start))
        pieces.append(text[cursor:start])
        pieces.append(MARK)
        cursor = end
    pieces.append(text[cursor:])
    return RedactionResult("".join(pieces), findings)
