"""Every credential kind is redacted; placeholders, model names, versions, ports and plain URLs are not.

The corpus in tests/redaction_corpus.py (synthetic values only) measures the whole redactor:
recall must be 100% (no value, not even a 6-character fragment of one, survives) and at most 2% of
the look-alikes may change.
"""

import ast
import random
import re
import shutil
import subprocess
import sys
import time
import unicodedata

import pytest

from llm_fallback.config import PROJECT_ROOT
from llm_fallback.text.redact import MARK, is_placeholder, redact
from tests.redaction_corpus import LOOK_ALIKES, SECRETS, Secret

REDACT_PY = PROJECT_ROOT / "llm_fallback" / "text" / "redact.py"

# Credential-shaped values made up for these tests (not taken from any note).
FAKE_KEY = "sk-" + "Tq7vLm2XpR9sKd4W" * 3
FAKE_SIGNATURE = "Zx81PqLmN0vBc7TtYh" * 3
_INVISIBLE = re.compile("[\u00ad\u200b-\u200f\u2060\ufeff]")


@pytest.mark.parametrize(
    ("text", "secret", "kind"),
    [
        (f"export OPENAI_API_KEY={FAKE_KEY}", FAKE_KEY, "api_key"),
        (f'client = OpenAI(api_key="{FAKE_KEY}")', FAKE_KEY, "api_key"),
        ("hf token: hf_AbCdEfGhIjKlMnOpQrStUvWx12", "hf_AbCdEfGhIjKlMnOpQrStUvWx12", "api_key"),
        ("blob 9fQ2LmZp7XwR4kT1vB8nC3yH6sD0aJ5e here", "9fQ2LmZp7XwR4kT1vB8nC3yH6sD0aJ5e", "api_key"),
        ("AWS_ACCESS_KEY_ID=AKIAQ7X2M9K4ZP3RT8WN", "AKIAQ7X2M9K4ZP3RT8WN", "api_key"),
        ("Webhook secret 5d41402abc4b2a76b9719d911017c592", "5d41402abc4b2a76b9719d911017c592", "api_key"),
        ("-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEAq7Zx9Lm2Pq\n-----END RSA PRIVATE KEY-----\n",
         "MIIEpAIBAAKCAQEAq7Zx9Lm2Pq", "private_key"),
        ('mycli "mysql://root:s3cretPw@10.0.0.5:3307/db"', "s3cretPw", "url_password"),
        ("postgresql://app:hunter22@db.internal/app", "hunter22", "url_password"),
        ("redis://:Rd7pass99@10.0.0.7:6379/0", "Rd7pass99", "url_password"),
        ("postgres://u:p@ss/w0rd@db.internal/app", "p@ss/w0rd", "url_password"),
        ("root:Tr0ub4dor@10.0.0.12", "Tr0ub4dor", "url_password"),
        ('-e SQL_DSN="root:GoDsnPass1@tcp(10.0.0.5:3307)/one"', "GoDsnPass1", "url_password"),
        ("curl -H 'Authorization: Bearer abcDEF123456ghiJKL'", "abcDEF123456ghiJKL", "bearer"),
        ("请求头带上 bearer 9x8y7z6w5v4u 即可", "9x8y7z6w5v4u", "bearer"),
        (f"wget https://dl.example.com/f.tar.xz?{FAKE_SIGNATURE}=&t=abc", FAKE_SIGNATURE, "signed_url"),
        ("https://s3.example.com/x?X-Amz-Signature=abc123def456&X-Amz-Date=1", "abc123def456", "signed_url"),
        ("sudo docker run -e CODE=123 image", "123", "setting"),
        ("DB_PASSWORD=tr0ub4dor", "tr0ub4dor", "setting"),
        ("PASSWORD=HUNTER2X9Q", "HUNTER2X9Q", "setting"),
        ("DB_PASS=Qx7!vLm2", "Qx7!vLm2", "setting"),
        ("password:Qx7!vLm2", "Qx7!vLm2", "setting"),
        ('{"password": "Qx7!vLm2"}', "Qx7!vLm2", "setting"),
        ('PASSWORD="correct horse battery"', "correct horse battery", "setting"),
        ("client_secret: q8w7e6r5t4", "q8w7e6r5t4", "setting"),
        ("mysql --password=Pa55word1 -u root", "Pa55word1", "setting"),
        ("登录密码：Abc12345", "Abc12345", "setting"),
        ("密码是Abc12345，别外传", "Abc12345", "setting"),
        ("API密钥：Zq9Lm2Xp7Rt4", "Zq9Lm2Xp7Rt4", "setting"),
        ("mysql -uroot -pMy5qlPw db", "My5qlPw", "command_password"),
        ("sshpass -p 'Ss9!pass' ssh root@10.0.0.8", "Ss9!pass", "command_password"),
        ("redis-cli -h 10.0.0.7 -a Rd7pass99 ping", "Rd7pass99", "command_password"),
        ("docker login -u ci -p Dk9!pass registry.example.com", "Dk9!pass", "command_password"),
        ("ssh -p 34429 root@gpu.example.com\nQw8rTy2uIo4P\n", "Qw8rTy2uIo4P", "login_password"),
        ("password:\nQw8rTy2uIo4P\n", "Qw8rTy2uIo4P", "login_password"),
    ],
)
def test_each_kind_is_redacted_and_reported_without_value(text: str, secret: str, kind: str) -> None:
    result = redact(text)
    assert secret not in result.text
    assert MARK in result.text
    assert kind in {f.kind for f in result.findings}
    assert all(secret not in repr(f) for f in result.findings)


def test_finding_points_at_the_value_in_the_original_line() -> None:
    text = "line one\nrun -e CODE=4711 -e TZ=UTC\n"
    (finding,) = redact(text).findings
    assert finding.line == 2
    assert text.splitlines()[1][finding.start:finding.end] == "4711"


def test_findings_map_back_through_normalisation() -> None:
    """Matching runs on NFKC text without invisibles; spans are in the original characters."""
    key = "sk-Tq7vLm2XpR9s\u200bKd4WTq7vLm2X"
    text = f"说明\nＰＡＳＳＷＯＲＤ＝Ｈｕｎｔ３ｒ９９ and {key}\n"
    result = redact(text)
    line = text.splitlines()[1]
    assert [line[f.start:f.end] for f in result.findings] == ["Ｈｕｎｔ３ｒ９９", key]
    assert result.text == f"说明\nＰＡＳＳＷＯＲＤ＝{MARK} and {MARK}\n"


def test_wrapped_key_gives_one_mark_per_line() -> None:
    text = "OPENAI_API_KEY=sk-Tq7vLm2XpR9sKd4WTq7v\nLm2XpR9sKd4WTq7vLm2X\nnext\n"
    result = redact(text)
    assert result.text == f"OPENAI_API_KEY={MARK}\n{MARK}\nnext\n"
    assert [f.line for f in result.findings] == [1, 2]


def test_line_structure_is_kept() -> None:
    text = "ssh root@host.example.com\nXy7!pass99\n\nafter\n"
    result = redact(text)
    assert result.text.splitlines() == ["ssh root@host.example.com", MARK, "", "after"]
    crlf = text.replace("\n", "\r\n")
    assert redact(crlf).text == f"ssh root@host.example.com\r\n{MARK}\r\n\r\nafter\r\n"


@pytest.mark.parametrize(
    "text",
    [
        "huggingface-cli download Qwen/Qwen2-72B-Instruct-GPTQ-Int4 --local-dir Qwen2-72B-Instruct-GPTQ-Int4",
        "pip install vllm==0.4.0.post1 flash-attn==2.5.7",
        "docker run -p 3009:3000 -e BASE_URL=http://192.168.3.122:3000 -e TZ=Asia/Shanghai image",
        "OLLAMA_HOST 0.0.0.0:11434",
        "--header 'Authorization: Bearer ACCESS_TOKEN'",
        "-e OPENAI_API_KEY=sk-123 -e CUSTOM_MODELS=Qwen2-7B-Instruct",
        'openai.api_key = "EMPTY"',
        'client = OpenAI(base_url="http://localhost:8000/v1", api_key="na")',
        'headers = {"Cookie", "access-token=${service.access.token}"}',
        "lora_key = False",
        "max_new_tokens=512 status_code=200",
        "ssh -p 22 root@host.example.com\nnvidia-smi\n",
        "https://blog.csdn.net/x/article/details/1?ops_request_misc=%257B%2522request%255Fid%2522%253A%2522"
        "172213414516800178553757%2522%257D&request_id=172213414516800178553757&utm_medium=distribute.pc_"
        "search_result.none-task-blog-2~blog~first_rank_ecpm_v1~rank_v31_ecpm-2-132588740-null-null.nonecase",
        "https://zhuanlan.zhihu.com/p/664143375?utm_source=wechat&utm_medium=social",
        "![Agent](https://mmbiz.qpic.cn/mmbiz_png/33P2FdAnjuicCxPP0TdkphlY7Jibm2gALKa9iahqJricehno31mNbRjAB3C89g"
        "/640?wx_fmt=png&from=appmsg)",
        "git@github.com:owner/repo.git",
        "sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08  model.gguf",
        "git checkout 3f2a9c1e8b7d6a5f4e3d2c1b0a9f8e7d6c5b4a39",
        "request_id=0b7e9c1a-3f2d-4e8b-a1c9-5d6e7f8a9b0c",
    ],
)
def test_non_secrets_are_left_alone(text: str) -> None:
    result = redact(text)
    assert result.text == text
    assert result.findings == []


@pytest.mark.parametrize(
    "value", ["ACCESS_TOKEN", "YOUR_KEY", "sk-123", "sk-xxxxxxxxxxxxxxxx", "${TOKEN}", "<your-key>", "xxxx",
              "EMPTY", "[REDACTED]", "你的密码"]
)
def test_placeholders(value: str) -> None:
    assert is_placeholder(value)


# An upper-case value with digits is not a placeholder word (the AKIA… and HUNTER2X9Q).
@pytest.mark.parametrize("value", ["123", "hunter22", FAKE_KEY, "HUNTER2X9Q", "AKIAQ7X2M9K4ZP3RT8WN"])
def test_literal_values_are_not_placeholders(value: str) -> None:
    assert not is_placeholder(value)


def test_redaction_is_idempotent() -> None:
    once = redact(f"KEY={FAKE_KEY}\nmysql://u:pw12345@h/db\nPASSWORD=HUNTER2X9Q\n").text
    assert redact(once).findings == []


# --- the corpus ------------------------------------------------------------------------------


def _leaks(output: str, value: str) -> bool:
    """The value, or any 6-character piece of it, is still readable in the output (as written, or
    once normalised the way the redactor reads text)."""
    views = (output, unicodedata.normalize("NFKC", _INVISIBLE.sub("", output)))
    value = unicodedata.normalize("NFKC", value)
    pieces = [value] if len(value) < 6 else [value[i:i + 6] for i in range(len(value) - 5)]
    return any(piece in view for view in views for piece in pieces)


def test_corpus_is_big_and_varied() -> None:
    assert len(SECRETS) >= 150 and len({c.shape for c in SECRETS}) >= 30
    assert len(LOOK_ALIKES) >= 150
    for cases in (SECRETS, LOOK_ALIKES):
        assert any(re.search(r"[\u4e00-\u9fff]", c.text) for c in cases)  # Chinese lines
        assert sum(c.held_out for c in cases) >= 40


@pytest.mark.parametrize("case", SECRETS, ids=lambda c: c.shape)
def test_corpus_secret_is_redacted(case: Secret) -> None:
    result = redact(case.text)
    leaked = [value for value in case.values if _leaks(result.text, value)]
    assert not leaked, f"{case.shape}: {result.text!r}"
    assert result.text.count("\n") == case.text.count("\n")
    assert redact(result.text).findings == []  # idempotent


def test_corpus_recall_is_complete() -> None:
    missed = [c.shape for c in SECRETS if any(_leaks(redact(c.text).text, v) for v in c.values)]
    assert missed == []


def test_corpus_look_alikes_false_positive_rate() -> None:
    changed = [c for c in LOOK_ALIKES if redact(c.text).text != c.text or redact(c.text).findings]
    rate = len(changed) / len(LOOK_ALIKES)
    assert rate <= 0.02, [(c.shape, c.text) for c in changed]


_ZERO_WIDTH = ("\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad")


def _variants(case: Secret, rng: random.Random) -> dict[str, str]:
    """The same line with a zero-width character inside each value, in full-width characters,
    and with CRLF line endings: the redactor reads all three as the original."""
    spliced = case.text
    for value in case.values:
        if value in spliced and len(value) > 2:
            cut = rng.randrange(1, len(value))
            spliced = spliced.replace(value, value[:cut] + rng.choice(_ZERO_WIDTH) + value[cut:])
    full_width = "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in case.text)
    return {"zero_width": spliced, "full_width": full_width, "crlf": case.text.replace("\n", "\r\n")}


def test_corpus_recall_survives_zero_width_full_width_and_crlf() -> None:
    rng = random.Random(3)
    missed = []
    for case in SECRETS:
        for name, text in _variants(case, rng).items():
            result = redact(text).text
            if any(_leaks(result, v) for v in case.values) or result.count("\r\n") != text.count("\r\n"):
                missed.append((name, case.shape))
    assert missed == []


def test_look_alikes_in_full_width_or_crlf_stay_unchanged() -> None:
    for case in LOOK_ALIKES:
        for text in ("".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in case.text),
                     case.text.replace("\n", "\r\n")):
            assert redact(text).text == text, case.shape


@pytest.mark.parametrize(
    "text",
    [
        ("A1b2" * 10 + " ") * 500,  # many candidates on one line: label look-back stays bounded
        "u:p@tcp(" * 2500,  # userinfo with many "@": password length is bounded
        "docker login " * 1500,  # command flags are looked for within a bounded window
        "-----BEGIN RSA PRIVATE KEY-----\n" + "A\n" * 10000,
        "ａ\u200b" * 10000,
        " ".join(f"KEY{i}=A1b2C3d4e5F6g7H8" for i in range(800)),
    ],
    ids=["token-runs", "go-dsn", "docker-login", "pem", "full-width", "settings"],
)
def test_long_pathological_input_stays_fast(text: str) -> None:
    """Questions and log lines come from users: no input shape may make matching quadratic."""
    start = time.perf_counter()
    redact(text)
    assert time.perf_counter() - start < 3.0  # ~0.2 s here; generous for a loaded machine


# --- constraints on the module ----------------------------------------------------------------


def test_module_is_pure_standard_library() -> None:
    """The Rasa server (Python 3.10) imports this module alone: stdlib only, nothing from llm_fallback."""
    tree = ast.parse(REDACT_PY.read_text(encoding="utf-8"))
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom) and node.module}
    assert imported <= set(sys.stdlib_module_names) | {"__future__"}, imported


def _python310() -> str | None:
    """The Rasa environment's interpreter, else a python3.10 on PATH that really runs."""
    candidates = [str(PROJECT_ROOT / ".venv-rasa" / "bin" / "python"), shutil.which("python3.10")]
    for candidate in filter(None, candidates):
        try:
            probe = subprocess.run([candidate, "-c", "import sys; print(sys.version_info[:2])"],
                                   capture_output=True, text=True, timeout=30)
        except OSError:
            continue
        if probe.stdout.strip() == "(3, 10)":
            return candidate
    return None


def test_module_runs_on_python_310() -> None:
    python310 = _python310()
    if python310 is None:
        pytest.skip("no working Python 3.10 here")
    code = ("import importlib.util, sys\n"
            f"spec = importlib.util.spec_from_file_location('r', {str(REDACT_PY)!r})\n"
            "m = importlib.util.module_from_spec(spec); sys.modules['r'] = m; spec.loader.exec_module(m)\n"
            "print(m.redact('密码是Abc12345 PASSWORD=HUNTER2X9Q').text)")
    out = subprocess.run([python310, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "密码是[REDACTED] PASSWORD=[REDACTED]"
