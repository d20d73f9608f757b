"""Every credential kind is redacted; placeholders, model names, versions, ports and plain URLs are not."""

import pytest

from llm_fallback.redact import MARK, is_placeholder, redact

# Credential-shaped values made up for these tests (not taken from any note).
FAKE_KEY = "sk-" + "Tq7vLm2XpR9sKd4W" * 3
FAKE_SIGNATURE = "Zx81PqLmN0vBc7TtYh" * 3


@pytest.mark.parametrize(
    ("text", "secret", "kind"),
    [
        (f"export OPENAI_API_KEY={FAKE_KEY}", FAKE_KEY, "api_key"),
        (f'client = OpenAI(api_key="{FAKE_KEY}")', FAKE_KEY, "api_key"),
        ("hf token: hf_AbCdEfGhIjKlMnOpQrStUvWx12", "hf_AbCdEfGhIjKlMnOpQrStUvWx12", "api_key"),
        ("blob 9fQ2LmZp7XwR4kT1vB8nC3yH6sD0aJ5e here", "9fQ2LmZp7XwR4kT1vB8nC3yH6sD0aJ5e", "api_key"),
        ('mycli "mysql://root:s3cretPw@10.0.0.5:3307/db"', "s3cretPw", "url_password"),
        ("postgresql://app:hunter22@db.internal/app", "hunter22", "url_password"),
        ('-e SQL_DSN="root:GoDsnPass1@tcp(10.0.0.5:3307)/one"', "GoDsnPass1", "url_password"),
        ("curl -H 'Authorization: Bearer abcDEF123456ghiJKL'", "abcDEF123456ghiJKL", "bearer"),
        (f"wget https://dl.example.com/f.tar.xz?{FAKE_SIGNATURE}=&t=abc", FAKE_SIGNATURE, "signed_url"),
        ("https://s3.example.com/x?X-Amz-Signature=abc123def456&X-Amz-Date=1", "abc123def456", "signed_url"),
        ("sudo docker run -e CODE=123 image", "123", "setting"),
        ("DB_PASSWORD=tr0ub4dor", "tr0ub4dor", "setting"),
        ("client_secret: q8w7e6r5t4", "q8w7e6r5t4", "setting"),
        ("mysql --password=Pa55word1 -u root", "Pa55word1", "setting"),
        ("登录密码：Abc12345", "Abc12345", "setting"),
        ("ssh -p 34429 root@gpu.example.com\nQw8rTy2uIo4P\n", "Qw8rTy2uIo4P", "login_password"),
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


def test_line_structure_is_kept() -> None:
    text = "ssh root@host.example.com\nXy7!pass99\n\nafter\n"
    result = redact(text)
    assert result.text.splitlines() == ["ssh root@host.example.com", MARK, "", "after"]


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
    ],
)
def test_non_secrets_are_left_alone(text: str) -> None:
    result = redact(text)
    assert result.text == text
    assert result.findings == []


@pytest.mark.parametrize(
    "value", ["ACCESS_TOKEN", "sk-123", "${TOKEN}", "<your-key>", "xxxx", "EMPTY", "[REDACTED]"]
)
def test_placeholders(value: str) -> None:
    assert is_placeholder(value)


@pytest.mark.parametrize("value", ["123", "hunter22", FAKE_KEY])
def test_literal_values_are_not_placeholders(value: str) -> None:
    assert not is_placeholder(value)


def test_redaction_is_idempotent() -> None:
    once = redact(f"KEY={FAKE_KEY}\nmysql://u:pw12345@h/db\n").text
    assert redact(once).findings == []
