"""Synthetic corpus for the redactor: credentials in realistic lines, and look-alikes that are not.

Every secret here is made up: drawn from a seeded random generator (so the corpus is the same on
every run) or written literally as an obvious fake. Nothing is copied from ../shared/notes.

- ``SECRETS``: lines of technical text (Chinese and English) that each hold one credential; each
  case is tagged with its shape and lists the raw value(s) that must not survive redaction, not
  even as a 6-character fragment.
- ``LOOK_ALIKES``: lines that look credential-ish (commit ids, model ids, checksums, placeholders,
  hyperparameters, ...) and must come out of the redactor unchanged.

Cases marked ``held_out`` were not looked at while designing the redactor. They come in two
batches: the first (``_held_out_*``) was written before the redesign; the second
(``_red_team_*``) was written after it, trying to break it, and run once before any fix. The rest
(``_design_*`` and the helpers they call) is what the redactor was designed on.
"""

from __future__ import annotations

import random
import string
from dataclasses import dataclass

_RNG = random.Random(20240611)
_LOWER = string.ascii_lowercase
_UPPER = string.ascii_uppercase
_DIGITS = string.digits
_ALNUM = _LOWER + _UPPER + _DIGITS
_HEX = "0123456789abcdef"
_SYMBOLS = "!#%^*_+-"


@dataclass(frozen=True)
class Secret:
    shape: str
    text: str
    values: tuple[str, ...]  # raw credential values that must not survive
    held_out: bool = False


@dataclass(frozen=True)
class LookAlike:
    shape: str
    text: str
    held_out: bool = False


def tok(n: int, alphabet: str = _ALNUM) -> str:
    """n random characters; a mixed alphabet always gets at least one of each class it includes."""
    chars = [_RNG.choice(alphabet) for _ in range(n)]
    classes = [c for c in (_LOWER, _UPPER, _DIGITS, _SYMBOLS) if set(c) & set(alphabet)]
    if len(classes) > 1:
        pool = range(1, n) if n > len(classes) else range(n)  # short values: as many classes as fit
        for slot, cls in zip(_RNG.sample(pool, min(len(pool), len(classes))), classes, strict=False):
            chars[slot] = _RNG.choice(sorted(set(cls) & set(alphabet)))
    if alphabet == _ALNUM + _SYMBOLS:
        chars[0] = _RNG.choice(_ALNUM)  # a leading symbol would read as a flag or a variable
    return "".join(chars)


def hexs(n: int) -> str:
    return "".join(_RNG.choice(_HEX) for _ in range(n))


def pw(n: int = 12) -> str:
    """A password with letters, digits and symbols."""
    return tok(n, _ALNUM + _SYMBOLS)


def caps(n: int) -> str:
    """Upper case and digits, like an AWS key id or an upper-case password."""
    return tok(n, _UPPER + _DIGITS)


def uuid() -> str:
    h = hexs(32)
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"


def _s(shape: str, text: str, *values: str, held_out: bool = False) -> Secret:
    return Secret(shape, text, values, held_out)


def _l(shape: str, text: str, held_out: bool = False) -> LookAlike:
    return LookAlike(shape, text, held_out)


def _held_out_secrets() -> list[Secret]:
    """Written first, before the redesign; not looked at while designing."""
    return _held_out_secrets_part1() + _held_out_secrets_part2()


def _held_out_secrets_part1() -> list[Secret]:
    cases = []
    k = "sk-" + tok(48)
    cases.append(_s("openai_key", f"export OPENAI_API_KEY={k}  # 测试环境用的 key", k))
    k = "sk-proj-" + tok(56, _ALNUM + "_-")
    cases.append(_s("openai_key", f'llm = ChatOpenAI(model="gpt-4o-mini", openai_api_key="{k}")', k))
    k = "ghp_" + tok(36)
    cases.append(_s("github_token", f"git clone https://{k}@github.com/acme/private-repo.git", k))
    k = "hf_" + tok(34)
    cases.append(_s("hf_token", f"huggingface-cli login --token {k}", k))
    k = "AKIA" + caps(16)
    cases.append(_s("aws_key_id", f"aws_access_key_id = {k}", k))
    s = tok(40, _ALNUM + "+/")
    cases.append(_s("aws_secret", f"aws_secret_access_key = {s}", s))
    v = caps(10)
    cases.append(_s("upper_password", f"MYSQL_ROOT_PASSWORD={v} docker compose up -d", v))
    v = pw(14)
    cases.append(_s("json_password", f'{{"username": "admin", "password": "{v}", "host": "10.1.2.3"}}', v))
    v = pw(10)
    cases.append(_s("colon_no_space", f"测试库 user:root password:{v}", v))
    v = pw(12)
    cases.append(_s("db_pass", f"DB_PASS={v}", v))
    phrase = "purple monkey dishwasher 42"
    cases.append(_s("quoted_spaces", f'SMTP_PASSWORD="{phrase}"', phrase, "monkey dishwasher"))
    v = pw(9)
    cases.append(_s("zh_password_is", f"服务器的root密码是{v}，用完记得改", v))
    v = tok(11)
    cases.append(_s("zh_password_is", f"管理后台账号 admin，密码为 {v}", v))
    v = tok(32, _HEX)
    cases.append(_s("zh_key_label", f"企业微信机器人密钥：{v}", v))
    v = pw(12)
    cases.append(_s("next_line_password", f"password:\n{v}\n", v))
    v = pw(10)
    cases.append(_s("next_line_password", f"跳板机账号：ops\n密码：\n{v}\n", v))
    v = pw(12)
    cases.append(_s("redis_empty_user", f'REDIS_URL="redis://:{v}@10.0.3.7:6379/0"', v))
    a, b = tok(4), tok(5)
    v = f"{a}/{b}@x9"
    line = f"postgresql://etl:{v}@pg.internal:5432/warehouse"
    cases.append(_s("url_password_special", line, v, a + "/" + b))
    v = pw(11)
    cases.append(_s("userinfo_no_scheme", f"rsync 备份目标 backup:{v}@192.168.10.20:/data/backup", v))
    return cases


def _held_out_secrets_part2() -> list[Secret]:
    cases = []
    v = tok(10)
    cases.append(_s("mysql_attached", f"mysqldump -uroot -p{v} --all-databases > all.sql", v))
    v = pw(12)
    cases.append(_s("sshpass", f"sshpass -p '{v}' ssh -o StrictHostKeyChecking=no root@10.0.0.8", v))
    v = tok(16)
    cases.append(_s("redis_cli", f"redis-cli -h 127.0.0.1 -p 6379 -a {v} info memory", v))
    v = pw(12)
    cases.append(_s("docker_login", f"docker login --username deploy --password {v} registry.example.com", v))
    v = tok(24, _ALNUM + "._-")
    line = f"curl -H 'authorization: bearer {v}' http://localhost:8080/v1/models"
    cases.append(_s("bearer_lower", line, v))
    v = hexs(64)
    cases.append(_s("hex_setting", f"JWT_SECRET={v}", v))
    v = hexs(40)
    cases.append(_s("hex_labelled", f"Webhook secret {v} (rotate monthly)", v))
    k = "sk-" + tok(48)
    cases.append(_s("wrapped_key", f"OPENAI_API_KEY={k[:30]}\n{k[30:]}\n", k[:30], k[30:]))
    k = "ghp_" + tok(36)
    cases.append(_s("zero_width_split", f"token: {k[:14]}\u200b{k[14:]}", k))
    k = "sk-" + tok(40)
    cases.append(_s("zero_width_split", f"OPENAI_API_KEY={k[:20]}\u2060{k[20:]}", k))
    v = tok(12)
    full = v.translate({ord(c): ord(c) + 0xFEE0 for c in string.ascii_letters + string.digits})
    cases.append(_s("fullwidth", f"数据库密码：{full}", v, full))
    j = "eyJ" + tok(30, _ALNUM + "_-") + "." + tok(60, _ALNUM + "_-") + "." + tok(43, _ALNUM + "_-")
    cases.append(_s("jwt", f"Authorization: {j}", j))
    v = tok(40)
    cases.append(_s("random_token", f"会话 cookie 里的值 {v} 直接贴过来了", v))
    v = tok(8, _LOWER + _DIGITS)
    cases.append(_s("access_code", f"百度网盘 链接: https://pan.baidu.com/s/1abc 提取码: {v}", v))
    v = pw(12)
    cases.append(_s("curl_user", f"curl -u elastic:{v} http://es.local:9200/_cat/indices", v))
    v = "".join(_RNG.choice(_DIGITS) for _ in range(10)) + ":AA" + tok(33, _ALNUM + "_-")
    cases.append(_s("telegram_bot_token", f"TELEGRAM_BOT_TOKEN: {v}", v))
    v = pw(12)
    cases.append(_s("login_next_line", f"ssh -p 22 ubuntu@gpu-node-3.example.com\n{v}\n", v))
    w, v = tok(40), pw(12)
    cases.append(_s("cli_flag", f"python train.py --wandb-key={w} --hub-token {v}", w, v))
    v = tok(24)
    cases.append(_s("yaml_setting", f"  client_secret: {v}", v))
    v = tok(30)
    cases.append(_s("aliyun_secret", f"阿里云 AccessKeySecret={v}", v))
    v = pw(12)
    cases.append(_s("conn_string", f"Server=10.0.0.4;Database=crm;User Id=sa;Password={v};", v))
    return cases


def _held_out_look_alikes() -> list[LookAlike]:
    cases = [
        _l("git_commit", f"git checkout {hexs(40)} && pip install -e ."),
        _l("git_commit", f"修复在 commit {hexs(7)} 里，见 PR #1289"),
        _l("model_id", "vllm serve Qwen/Qwen2.5-Coder-1.5B-Instruct --max-model-len 8192"),
        _l("model_id", 'AutoModelForCausalLM.from_pretrained("meta-llama/Llama-2-7b-hf",'
                       ' torch_dtype="auto")'),
        _l("sha256_checksum", f"sha256: {hexs(64)}  qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"),
        _l("sha256_checksum", f"下载后校验 sha256sum 应为 {hexs(64)}"),
        _l("uuid_request_id", f"request_id={uuid()} latency_ms=182"),
        _l("placeholder_caps", "export OPENAI_API_KEY=YOUR_API_KEY"),
        _l("placeholder_angle", "curl -H 'Authorization: Bearer <token>' https://api.example.com/v1/chat"),
        _l("placeholder_mask", 'client = OpenAI(api_key="sk-xxx", base_url="http://127.0.0.1:8000/v1")'),
        _l("env_reference", 'api_key = "${OPENAI_API_KEY}"'),
        _l("docker_digest", f"docker pull vllm/vllm-openai@sha256:{hexs(64)}"),
        _l("hyperparameter", "max_tokens=512, temperature=0.7, top_p: 0.9"),
        _l("version", "pip install transformers==4.36.2 peft==0.7.1 bitsandbytes==0.41.3.post2"),
        _l("paper_url", "LoRA 论文：https://arxiv.org/abs/2106.09685"),
        _l("status_code", "if resp.status_code == 200: print(resp.json())"),
        _l("llm_token", "每个 token 大约 0.75 个英文单词，1k token 约 750 词"),
        _l("llm_token", "设置 max_new_tokens=1024，eos_token_id=151643"),
        _l("special_token", 'tokenizer.pad_token = tokenizer.eos_token'),
        _l("code_reference", 'openai.api_key = os.getenv("OPENAI_API_KEY")'),
        _l("code_reference", "client = OpenAI(api_key=api_key, base_url=base_url)"),
        _l("langchain_keys", 'memory = ConversationBufferMemory(memory_key="chat_history",'
                             ' return_messages=True)'),
        _l("ssh_no_password", "ssh -p 42130 root@connect.example.com\nnvidia-smi\n"),
        _l("git_ssh_url", "git clone git@github.com:hiyouga/LLaMA-Factory.git"),
        _l("zh_password_prose", "忘记密码怎么办？在登录页点“找回密码”即可"),
        _l("password_prose", "The password: ask the on-call engineer, it is not in these notes."),
        _l("image_url", "![架构图](https://pic4.zhimg.com/v2-3b4c5d6e7f8a9b0c1d2e3f4a5b6c7d8e_r.jpg)"),
        _l("docker_port", "docker run -d -p 6379:6379 --name redis redis:7.2-alpine"),
        _l("mysql_prompt", "mysql -h 127.0.0.1 -P 3306 -u root -p"),
        _l("key_path", "SSH_KEY=~/.ssh/id_ed25519 ansible-playbook site.yml"),
        _l("zh_token_bucket", "限流用的是令牌桶算法，每秒生成 100 个令牌"),
        _l("dict_keys", '{"role": "user", "content": "什么是 QLoRA？"}'),
        _l("primary_key", "id = Column(Integer, primary_key=True)"),
        _l("placeholder_url", "postgresql://user:password@localhost:5432/mydb"),
        _l("npm_scope", "npm install @types/node@20.11.5 react@18.2.0"),
        _l("time_ratio", "训练耗时 12:30:45，显存占用 16:9 的图也能放下"),
        _l("pip_hash", f"torch==2.1.0 --hash=sha256:{hexs(64)}"),
        _l("lora_config", "LoraConfig(r=8, lora_alpha=16, lora_dropout=0.05,"
                          " target_modules=['q_proj', 'v_proj'])"),
        _l("key_fingerprint", f"The key fingerprint is SHA256:{tok(43, _ALNUM + '+/')}."),
        _l("bearer_prose", "Bearer authentication sends the token in the Authorization header."),
    ]
    return [LookAlike(c.shape, c.text, held_out=True) for c in cases]


def _provider_keys() -> list[Secret]:
    cases = []
    for line in ("export OPENAI_API_KEY={k}", "OpenAI 的 key 是 {k}，别外传", "openai.api_key = '{k}'",
                 "设置环境变量 DEEPSEEK_API_KEY={k} 后重启服务"):
        k = "sk-" + tok(48)
        cases.append(_s("openai_key", line.format(k=k), k))
    k = "sk-proj-" + tok(64, _ALNUM + "_-")
    cases.append(_s("openai_key", f"client = OpenAI(api_key=\"{k}\")", k))
    for line in ("ANTHROPIC_API_KEY={k}", "claude 的 key：{k}"):
        k = "sk-ant-api03-" + tok(80, _ALNUM + "_-")
        cases.append(_s("anthropic_key", line.format(k=k), k))
    for line in ("git remote set-url origin https://{k}@github.com/acme/notes.git",
                 "GITHUB_TOKEN: {k}", "gh auth login --with-token <<< {k}"):
        k = "ghp_" + tok(36)
        cases.append(_s("github_token", line.format(k=k), k))
    k = "github_pat_" + tok(22) + "_" + tok(59)
    cases.append(_s("github_token", f"细粒度 token {k} 只给了 contents:read 权限", k))
    for line in ("HF_TOKEN={k} huggingface-cli download meta-llama/Llama-2-7b-hf",
                 "login(token=\"{k}\")", "用 {k} 登录 huggingface 才能下 gated 模型"):
        k = "hf_" + tok(34)
        cases.append(_s("hf_token", line.format(k=k), k))
    for line in ("SLACK_BOT_TOKEN={k}", "slack bot token {k}"):
        k = "xoxb-" + tok(11, _DIGITS) + "-" + tok(12, _DIGITS) + "-" + tok(24)
        cases.append(_s("slack_token", line.format(k=k), k))
    for line in ("git clone https://oauth2:{k}@gitlab.example.com/ml/rag.git", "GITLAB_TOKEN={k}"):
        k = "glpat-" + tok(20, _ALNUM + "_-")
        cases.append(_s("gitlab_token", line.format(k=k), k))
    for line in ("GOOGLE_API_KEY={k}", "genai.configure(api_key=\"{k}\")",
                 "https://maps.googleapis.com/maps/api/geocode/json?address=beijing&key={k}"):
        k = "AIza" + tok(35, _ALNUM + "_-")
        cases.append(_s("google_api_key", line.format(k=k), k))
    for line in ("STRIPE_SECRET_KEY={k}", "stripe.api_key = \"{k}\""):
        k = "sk_live_" + tok(24)
        cases.append(_s("stripe_key", line.format(k=k), k))
    return cases


def _cloud_keys() -> list[Secret]:
    cases = []
    for line in ("AWS_ACCESS_KEY_ID={k}", "aws configure set aws_access_key_id {k}",
                 "S3 用的 AK 是 {k}", "[default]\naws_access_key_id = {k}\n"):
        k = "AKIA" + caps(16)
        cases.append(_s("aws_key_id", line.format(k=k), k))
    for line in ("AWS_SECRET_ACCESS_KEY={k}", "aws_secret_access_key: {k}",
                 "export AWS_SECRET_ACCESS_KEY=\"{k}\""):
        k = tok(40, _ALNUM + "+/")
        cases.append(_s("aws_secret", line.format(k=k), k))
    for line in ("ALIBABA_CLOUD_ACCESS_KEY_ID={k}", "阿里云 AccessKey ID：{k}"):
        k = "LTAI" + tok(20)
        cases.append(_s("aliyun_key_id", line.format(k=k), k))
    for line in ("ALIBABA_CLOUD_ACCESS_KEY_SECRET={k}", "accessKeySecret: \"{k}\"", "AccessKey Secret：{k}"):
        k = tok(30)
        cases.append(_s("aliyun_secret", line.format(k=k), k))
    k = "AKID" + tok(32)
    cases.append(_s("tencent_secret_id", f"腾讯云 SecretId={k}", k))
    return cases


def _tokens() -> list[Secret]:
    cases = []
    for line in ("Authorization: Bearer {j}", "token = \"{j}\"", "返回的 access_token：{j}"):
        j = "eyJ" + tok(24, _ALNUM + "_-") + "." + tok(80, _ALNUM + "_-") + "." + tok(43, _ALNUM + "_-")
        cases.append(_s("jwt", line.format(j=j), j))
    for line in ("cookie 里 sessionid {v} 有效期 7 天", "{v}", "临时凭证 {v} 一小时后过期",
                 "pasted by mistake: {v}"):
        v = tok(40)
        cases.append(_s("random_token", line.format(v=v), v))
    for line in ("curl -H \"Authorization: Bearer {v}\" http://10.0.0.2:8000/v1/models",
                 "headers = {{\"Authorization\": \"Bearer {v}\"}}", "Authorization: Basic {v}"):
        v = tok(32, _ALNUM + "._-")
        cases.append(_s("bearer_header", line.format(v=v), v))
    for line in ("curl -H 'authorization: bearer {v}' localhost:3000/api", "请求头带上 bearer {v} 即可",
                 "Authorization: token {v}"):
        v = tok(20, _LOWER + _DIGITS)
        cases.append(_s("bearer_lower", line.format(v=v), v))
    for line in ("TELEGRAM_TOKEN={v}", "https://api.telegram.org/bot{v}/sendMessage?chat_id=42"):
        v = "".join(_RNG.choice(_DIGITS) for _ in range(10)) + ":AA" + tok(33, _ALNUM + "_-")
        cases.append(_s("telegram_bot_token", line.format(v=v), v))
    v = f"T{caps(8)}/B{caps(10)}/{tok(24)}"
    cases.append(_s("webhook_url", f"SLACK_WEBHOOK=https://hooks.slack.com/services/{v}", v.split("/")[-1]))
    v = uuid()
    cases.append(_s("webhook_url", f"飞书机器人 https://open.feishu.cn/open-apis/bot/v2/hook/{v}", v))
    v = uuid()
    cases.append(_s("webhook_url", f"https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key={v}", v))
    return cases


def _urls() -> list[Secret]:
    cases = []
    for line in ("mysql://root:{v}@10.0.0.5:3306/app", "SQLALCHEMY_DATABASE_URI=postgresql+psycopg://app:{v}@db:5432/kb",
                 "mongodb://admin:{v}@mongo-0.mongo:27017/?authSource=admin",
                 "amqp://guest:{v}@rabbitmq.internal:5672/", "连接串 postgres://etl:{v}@pg.local/dw 只读"):
        v = pw(12)
        cases.append(_s("url_password", line.format(v=v), v))
    for line in ("redis://:{v}@127.0.0.1:6379/0", "CELERY_BROKER_URL=redis://:{v}@redis:6379/1"):
        v = tok(14)
        cases.append(_s("redis_empty_user", line.format(v=v), v))
    for tpl in ("postgres://u:{a}@{b}/w@db.internal/app", "mysql://root:{a}/{b}@10.0.0.9:3306/test",
                "ftp://ops:{a}@@{b}@ftp.example.com/pub"):
        a, b = tok(5), tok(5)
        line = tpl.format(a=a, b=b)
        secret = line.split("://", 1)[1].split(":", 1)[1].rsplit("@", 1)[0]
        cases.append(_s("url_password_special", line, secret))
    for line in ("root:{v}@10.0.0.12", "备份机 backup:{v}@nas.local:/volume1",
                 "scp 用 deploy:{v}@203.0.113.7 登录"):
        v = pw(11)
        cases.append(_s("userinfo_no_scheme", line.format(v=v), v))
    for line in ("-e SQL_DSN=\"root:{v}@tcp(10.0.0.5:3307)/oneapi\"",
                 "dsn := \"app:{v}@tcp(127.0.0.1:3306)/db\""):
        v = pw(12)
        cases.append(_s("go_dsn", line.format(v=v), v))
    for line in ("wget \"https://bucket.s3.amazonaws.com/m.gguf?X-Amz-Credential=AKIA{a}%2F20240101&X-Amz-Signature={v}\"",
                 "https://example-bucket.oss-cn-hangzhou.aliyuncs.com/a.zip?OSSAccessKeyId=LTAI{a}&Expires=1&Signature={v}"):
        a, v = caps(16), hexs(64)
        cases.append(_s("signed_url", line.format(a=a, v=v), v))
    for line in ("jdbc:mysql://10.0.0.3:3306/db?user=root&password={v}&useSSL=false",
                 "https://oapi.dingtalk.com/robot/send?access_token={v}"):
        v = hexs(64) if "dingtalk" in line else pw(12)
        cases.append(_s("url_query_secret", line.format(v=v), v))
    return cases


def _settings() -> list[Secret]:
    cases = []
    for line in ("PASSWORD={v}", "MYSQL_ROOT_PASSWORD={v}", "export REDIS_PASSWORD={v}",
                 "-e ADMIN_PASSWORD={v} \\", "POSTGRES_PASSWORD: {v}"):
        v = caps(10)
        cases.append(_s("upper_password", line.format(v=v), v))
    for line in ("password: {v}", "  db_password: {v}", "smtp_passwd = {v}", "secret: {v}",
                 "EMAIL_HOST_PASSWORD = {v}", "passphrase: {v}"):
        v = pw(12)
        cases.append(_s("yaml_setting", line.format(v=v), v))
    for line in ("password:{v}", "pwd:{v}", "密码:{v}", "账号 root password:{v} 端口 22"):
        v = pw(10)
        cases.append(_s("colon_no_space", line.format(v=v), v))
    for line in ("DB_PASS={v}", "export MYSQL_PASS='{v}'", "redis_pass: {v}",
                 "FTP_PASS={v} lftp ftp.example.com"):
        v = pw(12)
        cases.append(_s("db_pass", line.format(v=v), v))
    for line in ('PASSWORD="correct horse battery {n}"', "password: 'purple rain falls {n}'",
                 'secret = "open sesame now {n}"', "密码：“我 爱 北京 {n}”"):
        n = tok(4)
        phrase = line.split('"')[1] if '"' in line else line.split("'")[1] if "'" in line else line[4:-1]
        cases.append(_s("quoted_spaces", line.format(n=n), phrase.format(n=n)))
    for line in ('{{"password": "{v}"}}', "config = {{'api_key': '{v}', 'model': 'qwen-plus'}}",
                 '"client_secret": "{v}",', "conn = dict(host='10.0.0.2', password='{v}')",
                 'os.environ["DB_PASSWORD"] = "{v}"', "$cfg['Servers'][$i]['password'] = '{v}';"):
        v = pw(13)
        cases.append(_s("json_password", line.format(v=v), v))
    for line in ("mysql --password={v} -u root", "mongodump --username admin --password {v} --db app",
                 "openai api --api-key {v} models.list",
                 "python upload.py --token={v}", "rclone config create s3 --secret-access-key {v}"):
        v = pw(12)
        cases.append(_s("cli_flag", line.format(v=v), v))
    for line in ("SECRET={v}", "FLASK_SECRET_KEY={v}", "webhook_secret: {v}", "API_TOKEN={v}", "APP_KEY={v}"):
        v = hexs(_RNG.choice((32, 40, 64)))
        cases.append(_s("hex_setting", line.format(v=v), v))
    for line in ("CODE=123", "ACCESS_CODE=4711", "-e CODE={v} -e BASE_URL=http://127.0.0.1:3000"):
        v = line.split("=")[1] if "{v}" not in line else "".join(_RNG.choice(_DIGITS) for _ in range(4))
        cases.append(_s("access_code", line.format(v=v), v))
    for line in ("Server=db01;Database=crm;User Id=sa;Password={v};", "Driver={{ODBC}};Uid=app;Pwd={v};"):
        v = pw(12)
        cases.append(_s("conn_string", line.format(v=v), v))
    v = pw(12)
    cases.append(_s("netrc", f"machine api.example.com login deploy password {v}", v))
    v = pw(12)
    cases.append(_s("pgpass", f"db.internal:5432:analytics:etl:{v}", v))
    v = pw(12)
    cases.append(_s("windows_setx", f"setx OPENAI_API_KEY \"{v}\"", v))
    v = pw(12)
    cases.append(_s("powershell_env", f'$env:DB_PASSWORD = "{v}"', v))
    return cases


def _chinese_labels() -> list[Secret]:
    cases = []
    for line in ("登录密码：{v}", "root 密码: {v}", "数据库密码 ＝ {v}", "口令：{v}", "账号/密码：admin/{v}"):
        v = pw(10)
        cases.append(_s("zh_password_colon", line.format(v=v), v))
    for line in ("密码是{v}", "密码为{v}，不要外传", "密码＝{v}", "服务器密码是 {v}", "用户名和密码都是{v}"):
        v = tok(10)
        cases.append(_s("zh_password_is", line.format(v=v), v))
    for line in ("API密钥：{v}", "访问令牌：{v}", "秘钥是{v}", "私钥口令为 {v}", "AppSecret（秘钥）：{v}"):
        v = tok(24)
        cases.append(_s("zh_key_label", line.format(v=v), v))
    for line in ("提取码：{v}", "访问码 {v}"):
        v = tok(4, _LOWER + _DIGITS)
        cases.append(_s("access_code", line.format(v=v), v))
    return cases


def _commands() -> list[Secret]:
    cases = []
    for line in ("mysql -uroot -p{v} -h 10.0.0.5", "mysql -h 127.0.0.1 -P 3306 -u app -p{v} app_db",
                 "mysqladmin -uroot -p'{v}' status", "mariadb -u root -p\"{v}\""):
        v = tok(11)
        cases.append(_s("mysql_attached", line.format(v=v), v))
    for line in ("sshpass -p {v} ssh root@10.0.0.8", "sshpass -p '{v}' scp a.tar.gz ops@10.0.0.9:/tmp/",
                 "sshpass -p\"{v}\" rsync -av ./ root@gpu:/data"):
        v = pw(12)
        cases.append(_s("sshpass", line.format(v=v), v))
    for line in ("redis-cli -a {v}", "redis-cli -h redis.internal -p 6380 -a '{v}' --no-auth-warning ping",
                 "redis-cli --pass {v} -n 2 keys '*'"):
        v = tok(16)
        cases.append(_s("redis_cli", line.format(v=v), v))
    for line in ("docker login -u deploy -p {v} registry.example.com",
                 "docker login --password {v} --username ci harbor.local",
                 "podman login -u bot -p '{v}' quay.io"):
        v = pw(14)
        cases.append(_s("docker_login", line.format(v=v), v))
    for line in ("curl -u admin:{v} http://localhost:15672/api/queues", "curl --user elastic:{v} https://es:9200",
                 "wget --user=ci --password={v} https://artifacts.example.com/model.bin"):
        v = pw(12)
        cases.append(_s("curl_user", line.format(v=v), v))
    for line in ("mongosh -u admin -p {v} --authenticationDatabase admin", "ldapsearch -x -D cn=admin -w {v}",
                 "openssl pkcs12 -export -in a.crt -inkey a.key -passout pass:{v} -out a.p12"):
        v = pw(12)
        cases.append(_s("command_password", line.format(v=v), v))
    return cases


def _multiline() -> list[Secret]:
    cases = []
    for head in ("ssh -p 34429 root@connect.example.com", "$ ssh ubuntu@10.0.0.7", "sudo su -",
                 "mysql -u root -p"):
        v = pw(12)
        cases.append(_s("login_next_line", f"{head}\n{v}\n", v))
    for head in ("password:", "密码：", "Password:", "root 密码:\n```"):
        v = pw(11)
        cases.append(_s("next_line_password", f"{head}\n{v}\n", v))
    for line in ("OPENAI_API_KEY={a}\n{b}\n", "api_key: {a}\n{b}\n", "export HF_TOKEN={a}\n{b}\n"):
        k = ("hf_" if "HF" in line else "sk-") + tok(50)
        a, b = k[:28], k[28:]
        cases.append(_s("wrapped_key", line.format(a=a, b=b), a, b))
    body = [tok(64, _ALNUM + "+/") for _ in range(3)]
    pem = "-----BEGIN RSA PRIVATE KEY-----\n" + "\n".join(body) + "\n-----END RSA PRIVATE KEY-----\n"
    cases.append(_s("private_key_block", pem, *body))
    body = [tok(70, _ALNUM + "+/") for _ in range(2)]
    pem = "-----BEGIN OPENSSH PRIVATE KEY-----\n" + "\n".join(body) + "\n-----END OPENSSH PRIVATE KEY-----\n"
    cases.append(_s("private_key_block", pem, *body))
    return cases


def _unicode() -> list[Secret]:
    cases = []
    for zw in ("\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad"):
        k = "sk-" + tok(40)
        cut = _RNG.randrange(8, 36)
        cases.append(_s("zero_width_split", f"OPENAI_API_KEY={k[:cut]}{zw}{k[cut:]}", k))
    v = pw(10)
    cases.append(_s("zero_width_split", f"pass\u200bword: {v}", v))
    v = pw(10)
    cases.append(_s("zero_width_split", f"密\u200b码：{v[:4]}\u200d{v[4:]}", v))
    for line in ("ＰＡＳＳＷＯＲＤ＝{v}", "密码＝{v}", "api_key：{v}"):
        v = tok(12)
        cases.append(_s("fullwidth", line.format(v=v), v))
    v = tok(12)
    full = v.translate({ord(c): ord(c) + 0xFEE0 for c in string.ascii_letters + string.digits})
    cases.append(_s("fullwidth", f"token: ｓｋ－{full}{full}", v))
    return cases


def _design_secrets() -> list[Secret]:
    return (_provider_keys() + _cloud_keys() + _tokens() + _urls() + _settings() + _chinese_labels()
            + _commands() + _multiline() + _unicode())


def _design_look_alikes() -> list[LookAlike]:
    return (_design_look_alikes_part1() + _design_look_alikes_part2() + _design_look_alikes_part3()
            + _design_look_alikes_part4())


def _design_look_alikes_part1() -> list[LookAlike]:
    commit, short = hexs(40), hexs(7)
    cases = [
        _l("git_commit", f"git checkout {commit}"),
        _l("git_commit", f"git cherry-pick {short} 之后再 rebase"),
        _l("git_commit", f"commit {commit}\nAuthor: Li Lei <lilei@example.com>\n"),
        _l("git_commit", f"pip install git+https://github.com/huggingface/transformers.git@{commit}"),
        _l("git_commit", f"fixed in {short} (see https://github.com/vllm-project/vllm/commit/{commit})"),
        _l("git_commit", f'hf_hub_download("Qwen/Qwen2-7B-Instruct", "config.json", revision="{commit}")'),
    ]
    for model in ("Qwen/Qwen2.5-Coder-1.5B-Instruct", "meta-llama/Llama-2-7b-hf", "THUDM/chatglm3-6b-32k",
                  "mistralai/Mixtral-8x7B-Instruct-v0.1", "BAAI/bge-large-zh-v1.5",
                  "TheBloke/Llama-2-13B-chat-GPTQ", "Qwen/Qwen2-72B-Instruct-GPTQ-Int4",
                  "deepseek-ai/DeepSeek-Coder-V2-Lite-Instruct"):
        local = model.split("/")[1]
        cases.append(_l("model_id", f"huggingface-cli download {model} --local-dir ./models/{local}"))
    cases += [
        _l("model_id", "modelscope download --model 'qwen/Qwen2-72B-Instruct-GPTQ-Int8' --include '*.json'"),
        _l("model_id", "ollama run qwen2.5-coder:1.5b-instruct-q4_K_M"),
        _l("model_file", "model-00006-of-00011.safetensors  qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"),
    ]
    for line in ("sha256: {h}", "SHA256 ({f}) = {h}", "{h}  {f}", "校验和 sha256 为 {h}",
                 "checksum: sha256:{h}", "md5sum {f} 输出 {m}", "文件哈希（sha1）：{s}",
                 "Digest: sha256:{h}", "expected sha256 {h}, got {h2}"):
        cases.append(_l("sha256_checksum", line.format(h=hexs(64), h2=hexs(64), m=hexs(32), s=hexs(40),
                                                       f="qwen2-7b-instruct-q4_0.gguf")))
    for line in ("request_id: {u}", "x-request-id={u}", "trace_id {u} 超时 30s", "日志里 request id 是 {u}",
                 "conversation_id = \"{u}\"", "session {u} closed after 3 turns"):
        cases.append(_l("uuid_request_id", line.format(u=uuid())))
    return cases


def _design_look_alikes_part2() -> list[LookAlike]:
    cases = []
    cases += [
        _l("placeholder_caps", "OPENAI_API_KEY=YOUR_API_KEY"),
        _l("placeholder_caps", "--header 'Authorization: Bearer ACCESS_TOKEN'"),
        _l("placeholder_caps", 'openai.api_key = "EMPTY"'),
        _l("placeholder_caps", "export HF_TOKEN=YOUR_HF_TOKEN_HERE"),
        _l("placeholder_caps", "password: CHANGE_ME"),
        _l("placeholder_caps", "DB_PASSWORD=REPLACE_WITH_PASSWORD"),
        _l("placeholder_angle", "-H 'Authorization: Bearer <token>'"),
        _l("placeholder_angle", "api_key=<your-api-key>"),
        _l("placeholder_angle", "mysql://root:<password>@localhost:3306/db"),
        _l("placeholder_angle", "密码：<你的密码>"),
        _l("placeholder_mask", "OPENAI_API_KEY=sk-xxx"),
        _l("placeholder_mask", "api_key: sk-xxxxxxxxxxxxxxxxxxxxxxxx"),
        _l("placeholder_mask", "password: ******"),
        _l("placeholder_mask", "-e OPENAI_API_KEY=sk-123 -e CUSTOM_MODELS=Qwen2-7B-Instruct"),
        _l("placeholder_mask", "密码：xxxxxx"),
        _l("placeholder_mask", "token: ..."),
        _l("placeholder_word", 'client = OpenAI(base_url="http://localhost:8000/v1", api_key="na")'),
        _l("placeholder_word", "password: changeme"),
        _l("placeholder_word", 'api_key="你的API Key"'),
        _l("placeholder_word", "密码：你的密码"),
        _l("placeholder_word", "lora_key = False"),
        _l("placeholder_word", "password = None"),
        _l("placeholder_word", 'password=""'),
        _l("env_reference", "api_key: ${OPENAI_API_KEY}"),
        _l("env_reference", 'token = "$HF_TOKEN"'),
        _l("env_reference", "password: {{ vault_db_password }}"),
        _l("env_reference", "-e PASSWORD=%DB_PASSWORD%"),
        _l("env_reference", 'headers = {"Cookie", "access-token=${service.access.token}"}'),
        _l("env_reference", "mysql -u root -p$MYSQL_ROOT_PASSWORD"),
        _l("env_reference", 'password = "%(password)s"'),
        _l("code_reference", "password = getpass.getpass()"),
        _l("code_reference", 'password=os.environ["DB_PASSWORD"]'),
        _l("code_reference", "token = settings.HF_TOKEN"),
        _l("code_reference", "api_key=self.api_key,"),
        _l("code_reference", "secret_key = get_secret_key()"),
        _l("code_reference", "password=password, user=user"),
        _l("code_reference", "def login(username: str, password: str) -> bool:"),
        _l("code_reference", "key=lambda x: x[1], reverse=True"),
    ]
    return cases


def _design_look_alikes_part3() -> list[LookAlike]:
    cases = []
    for image in ("vllm/vllm-openai", "ghcr.io/huggingface/text-generation-inference", "ollama/ollama"):
        cases.append(_l("docker_digest", f"docker pull {image}@sha256:{hexs(64)}"))
    cases += [
        _l("docker_digest", f"FROM python:3.10-slim@sha256:{hexs(64)}"),
        _l("docker_digest", f"image: nginx:1.25@sha256:{hexs(64)}"),
    ]
    for line in ("max_tokens=512", "top_p: 0.9", "temperature=0.7, top_k=50, repetition_penalty=1.1",
                 "--max-model-len 16000 --gpu-memory-utilization 0.95 --tensor-parallel-size 4",
                 "max_new_tokens=1024", "learning_rate: 2e-4", "per_device_train_batch_size=2",
                 "num_train_epochs: 3", "warmup_ratio=0.03", "lora_alpha: 32", "\"max_tokens\": 7,",
                 "model.generate(**inputs, max_new_tokens=256, do_sample=False)", "batch_size=8 seq_len=4096",
                 "--num-prompts 100 --input-len 128 --output-len 1024", "top_k 设为 40，top_p 设为 0.95"):
        cases.append(_l("hyperparameter", line))
    for line in ("pip install vllm==0.4.0.post1 flash-attn==2.5.7", "CUDA 12.1, driver 535.104.05",
                 "llama-cpp-python 0.3.36", "torch 2.1.0+cu121", "version: 3.6.21", "rasa==3.6.21",
                 "cudnn-linux-x86_64-8.9.7.29_cuda11-archive.tar.xz", "Python 3.10.13"):
        cases.append(_l("version", line))
    for line in ("https://arxiv.org/abs/2305.14314", "https://arxiv.org/pdf/2106.09685v2.pdf",
                 "[QLoRA](https://zhuanlan.zhihu.com/p/664143375?utm_source=wechat&utm_medium=social)",
                 "https://github.com/vllm-project/vllm/blob/main/examples/api_client.py",
                 "https://huggingface.co/Qwen/Qwen2.5-Coder-1.5B-Instruct-GGUF/resolve/main/README.md",
                 "doi: 10.48550/arXiv.2305.14314"):
        cases.append(_l("paper_url", line))
    for _ in range(3):
        cases.append(_l("image_url", f"![img](https://mmbiz.qpic.cn/mmbiz_png/{tok(54)}/640?wx_fmt=png&from=appmsg)"))
    cases += [
        _l("image_url", f"![](https://img-blog.csdnimg.cn/direct/{hexs(32)}.png)"),
        _l("image_url", f"<img src=\"https://pic1.zhimg.com/80/v2-{hexs(32)}_720w.webp\" />"),
        _l("data_uri", f"![dot](data:image/png;base64,iVBORw0KGgo{tok(60, _ALNUM + '+/')}==)"),
    ]
    for line in ("status_code=200", "HTTP_CODE=404", "exit code: 137 (OOM killed)", "error_code: 1001",
                 "response.status_code == 401 表示未授权"):
        cases.append(_l("status_code", line))
    for line in ("1k token大概是750个英文单词,500个中文汉字", "Time To First Token(TTFT): 首 token 延迟",
                 "token: 模型处理文本的最小单位", "每秒输出 token: 32 tok/s",
                 "prompt token: 800, completion token: 30",
                 "special token: <|im_end|>", "eos_token: </s>", 'tokenizer.pad_token = "<|endoftext|>"',
                 "bos_token_id = 1", "the key: value pairs of the attention cache"):
        cases.append(_l("llm_token", line))
    return cases


def _design_look_alikes_part4() -> list[LookAlike]:
    cases = []
    cases += [
        _l("langchain_keys", 'chain = LLMChain(llm=llm, prompt=prompt, output_key="answer")'),
        _l("langchain_keys", 'RetrievalQA.from_chain_type(llm, input_key="question")'),
        _l("langchain_keys", "sorted(docs, key=len)"),
        _l("langchain_keys", "primary_key=True, index=True"),
        _l("host_port", "OLLAMA_HOST 0.0.0.0:11434"),
        _l("host_port", "docker run -p 3009:3000 -e BASE_URL=http://192.168.3.122:3000"
                        " -e TZ=Asia/Shanghai image"),
        _l("host_port", "ssh -L 8000:localhost:8000 root@connect.example.com -p 34429"),
        _l("ssh_no_password", "ssh -p 22 root@host.example.com\nnvidia-smi\n"),
        _l("ssh_no_password", "ssh root@10.0.0.7\ncd /data && ls\n"),
        _l("ssh_no_password", "scp -P 2222 model.gguf root@gpu:/models/\n"),
        _l("git_ssh_url", "git@github.com:owner/repo.git"),
        _l("email", "有问题联系 zhang.san@example.com 或 mailto:ops@example.com"),
        _l("email", "Author: jhq <jhq@example.com>"),
        _l("key_fingerprint", f"ED25519 key fingerprint is SHA256:{tok(43, _ALNUM + '+/')}."),
        _l("key_fingerprint", "ssh-keygen -t ed25519 -C \"ci@example.com\" -f ~/.ssh/id_ed25519"),
        _l("public_key", "公钥在 ~/.ssh/id_rsa.pub，把它贴到 GitHub 的 SSH keys 页面"),
        _l("zh_password_prose", "密码是否正确要看日志"),
        _l("zh_password_prose", "密码为空时 MySQL 会拒绝远程登录"),
        _l("zh_password_prose", "如果忘了密码，用 mysqld --skip-grant-tables 重置"),
        _l("zh_password_prose", "密码：请找运维同学要"),
        _l("zh_password_prose", "密钥长度：2048 位"),
        _l("password_prose", "Reset your password: see the wiki page for the steps."),
        _l("password_prose", "password: the one from the vault, never paste it here"),
        _l("password_prose", "Use a password manager; passwords: at least 12 characters."),
        _l("token_prose", "bearer tokens are sent on every request"),
        _l("hex_misc", "color: #ff6600; background: #1e1e1e"),
        _l("hex_misc", "Segmentation fault at 0x7ffd5c3a9e10"),
        _l("path", "/root/autodl-tmp/cache_dir/qwen/Qwen2-72B-Instruct-GPTQ-Int4/"
                   "model.safetensors.index.json"),
        _l("path", "export TOKENIZER_PATH=/data/models/chatglm3-6b-32k"),
        _l("path", "SSH_KEY=/home/ci/.ssh/deploy_key"),
        _l("mysql_prompt", "mysql -u root -p\nmysql> SHOW DATABASES;\n"),
        _l("mysql_prompt", "mycli -h 127.0.0.1 -P 3307 -u root test_oneapi"),
        _l("docker_port", "sudo docker run -d -p 3009:3000 --name next-web yidadaa/chatgpt-next-web"),
        _l("docker_port", "docker login registry.example.com"),
        _l("docker_port", "echo \"$CI_TOKEN\" | docker login -u ci --password-stdin registry.example.com"),
        _l("redis_cli", "redis-cli -h 127.0.0.1 -p 6379 ping"),
        _l("lora_config", "target_modules=[\"q_proj\", \"k_proj\", \"v_proj\", \"o_proj\"]"),
        _l("placeholder_url", "redis://localhost:6379/0"),
        _l("placeholder_url", "postgres://USER:PASSWORD@HOST:5432/DB"),
        _l("placeholder_url", "mysql://${DB_USER}:${DB_PASS}@db:3306/app"),
        _l("time_ratio", "12:30:45 开始训练，14:02:10 结束"),
        _l("csdn_url", "https://blog.csdn.net/x/article/details/1?ops_request_misc=%257B%2522request%255Fid%2522"
                       "%253A%2522172213414516800178553757%2522%257D&request_id=172213414516800178553757"),
        _l("integrity", f'<script src="x.js" integrity="sha384-{tok(64, _ALNUM + "+/")}"></script>'),
        _l("nvidia_smi", "| 0  NVIDIA A100-SXM4-80GB  On | 00000000:07:00.0 Off | 0 |"),
        _l("zh_token_bucket", "令牌桶和漏桶的区别是什么？"),
        _l("base64_prose", "base64 编码后是 aGVsbG8gd29ybGQ=，解码回 hello world"),
    ]
    return cases + _project_look_alikes()


def _project_look_alikes() -> list[LookAlike]:
    """Shapes from this project's own code and docs that an early version of the redesign changed."""
    lines = [
        ("faq_key", f"- key: {hexs(10)}"),
        ("faq_key", f'- {{key: "{hexs(10)}", lang: zh, q: "回答老被截断，是不是 max_new_tokens 小了"}}'),
        ("faq_key", f'- {{key: "{hexs(10)}", lang: en, q: "What does max pooling give for [2, 3, 1]?"}}'),
        ("code_reference", 'return Verdict(credential=name) if name else Verdict(reason="invalid token")'),
        ("code_reference", "per_credential: RateLimiter"),
        ("code_reference", 'HMAC_CREDENTIAL = "hmac"'),
        ("code_reference", 'if (event.key === "Enter" && !event.shiftKey) {'),
        ("code_reference", "assert pair.key == \"k1\" and pair.paraphrases == ()"),
        ("env_reference", "RASA_JWT_SECRET, passed to Rasa as --auth-token / --jwt-secret"),
        ("password_prose", 'fail "RASA_API=on needs RASA_JWT_SECRET: Rasa\'s HTTP API reads it"'),
        ("env_reference", "RASA_TOKEN=$(python -c 'import secrets; print(secrets.token_urlsafe(32))')"),
        ("placeholder_elided", "export TELEGRAM_BOT_TOKEN=123456:ABC...        # from @BotFather"),
        ("bearer_prose", 'headers={"WWW-Authenticate": \'Bearer realm="intranet"\'}'),
        ("bearer_prose", 'headers["Authorization"] = "Bearer not-a-token"'),
    ]
    return [LookAlike(shape, text) for shape, text in lines]


def _red_team_secrets() -> list[Secret]:
    """Written after the redesign, trying to break it, and run once before any fix."""
    cases = _red_team_secrets_part1() + _red_team_secrets_part2()
    return [Secret(c.shape, c.text, c.values, held_out=True) for c in cases]


def _red_team_secrets_part1() -> list[Secret]:
    cases = []
    v = f"{tok(3)}@{tok(3)} w{tok(4)}"
    cases.append(_s("quoted_spaces", f'export PGPASSWORD="{v}"', v))
    v = f"{tok(4)} {tok(4)} {tok(4)}"
    cases.append(_s("quoted_spaces", f'mysql -h db -u root --password="{v}" app', v))
    a, b = tok(4), tok(5)
    v = f"{a}%40{b}%2F{tok(3)}"
    cases.append(_s("url_password", f"DATABASE_URL=postgres://app:{v}@db:5432/app", v))
    k = "ghs_" + tok(36)
    cases.append(_s("github_token", f"git clone https://x-access-token:{k}@github.com/acme/infra.git", k))
    v = f"{tok(6)}&{tok(1, _DIGITS)}{tok(3)}"
    cases.append(_s("yaml_setting", f"  password: {v}", v))
    v = f"{tok(5)};{tok(6)}"
    cases.append(_s("env_setting", f"PASSWORD={v}", v))
    k = "AIza" + tok(35, _ALNUM + "_-")
    cases.append(_s("json_password", f'{{"apiKey": "{k}", "authDomain": "demo.firebaseapp.com"}}', k))
    k = "sk-" + tok(48)
    cases.append(_s("openai_key", f"  - OPENAI_API_KEY={k}", k))
    v = tok(32, _ALNUM + "._-")
    cases.append(_s("bearer_header", f"Authorization=Bearer {v}", v))
    v = f"Init@{tok(4, _DIGITS)}"
    cases.append(_s("zh_password_colon", f"初始密码：{v}，首次登录后修改", v))
    v = f"Admin@{tok(3, _DIGITS)}{tok(2)}"
    cases.append(_s("zh_password_spaced", f"默认账号 admin / 密码 {v}", v))
    v = tok(12, _LOWER + _DIGITS)
    cases.append(_s("zh_password_colon", f"Redis 密码: {v}", v))
    v = tok(32, _HEX)
    cases.append(_s("hex_setting", f"AZURE_OPENAI_KEY={v}", v))
    v = pw(10)
    cases.append(_s("comment_password", f"ssh root@10.2.3.4  # 密码 {v}", v))
    return cases


def _red_team_secrets_part2() -> list[Secret]:
    cases = []
    v = tok(9)
    cases.append(_s("mysql_attached", f'mysql -uroot -p"{v} {tok(3)}" -e "show databases"', v))
    v = pw(11)
    cases.append(_s("prompt_password", f"Password for user postgres: {v}", v))
    v = pw(11)
    cases.append(_s("prompt_password", f"Enter password: {v}", v))
    v = "django-insecure-" + pw(40)
    cases.append(_s("django_secret", f"SECRET_KEY = '{v}'", v))
    v = pw(12)
    cases.append(_s("dotted_setting", f"spring.datasource.password={v}", v))
    v = pw(12)
    cases.append(_s("json_password", f'{{"Password": "{v}", "Port": 5432}}', v))
    v = tok(30)
    cases.append(_s("ak_sk", f"sk: {v}", v))
    v = tok(32)
    cases.append(_s("ak_sk", f"腾讯云 SecretKey={v}", v))
    v = hexs(40)
    cases.append(_s("wandb_login", f"wandb login {v}", v))
    v = "2" + tok(26) + "_" + tok(21)
    cases.append(_s("ngrok_token", f"ngrok config add-authtoken {v}", v))
    v = tok(32)
    line = f'headers = {{"X-API-KEY": "{v}", "Content-Type": "application/json"}}'
    cases.append(_s("header_dict", line, v))
    v = "sk-" + tok(32)
    cases.append(_s("bearer_header", f'curl https://api.deepseek.com/chat -H "Authorization: Bearer {v}"', v))
    v = pw(12)
    cases.append(_s("upper_password", f"RABBITMQ_DEFAULT_PASS={v}", v))
    k = "hf_" + tok(34)
    cases.append(_s("zero_width_split", f"HF_TOKEN=\u00a0{k[:10]}\ufeff{k[10:]}", k))
    v = tok(24)
    cases.append(_s("yaml_setting", f"app_secret: '{v}'", v))
    v = pw(12)
    cases.append(_s("cli_flag", f"java -jar app.jar --spring.datasource.password={v}", v))
    return cases


def _red_team_look_alikes() -> list[LookAlike]:
    lines = [
        ("code_reference", 'headers = {"Authorization": f"Bearer {api_key}"}'),
        ("placeholder_caps", "password=PASSWORD, user=USER"),
        ("placeholder_caps", "api_key=OPENAI_API_KEY"),
        ("code_reference", 'token = os.environ.get("HF_TOKEN")'),
        ("env_reference", "--hf_token $HF_TOKEN"),
        ("placeholder_word", "hf_token: null"),
        ("git_commit", "git log --format=%H -n 1"),
        ("sha256_checksum", f"sha1: {hexs(40)}"),
        ("sha256_checksum", f'etag: "{hexs(32)}"'),
        ("llm_token", '"input_ids": [1, 2, 3], "attention_mask": [1, 1, 1]'),
        ("llm_token", "key 和 value 的维度都是 head_dim=128"),
        ("llm_token", "Q、K、V 三个矩阵，K 是 key"),
        ("llm_token", "max_input_tokens: 4096, tokens_per_second: 32.5"),
        ("llm_token", "Token 数量: 4096"),
        ("zh_password_prose", "API Key 在控制台创建，创建后只显示一次"),
        ("zh_password_prose", "公钥加密、私钥解密，密码学的基本思路"),
        ("env_reference", 'access_key: "${ACCESS_KEY}"'),
        ("version", "model_revision='v1.0.2'"),
        ("model_id", "ollama pull llama3:8b-instruct-q4_0"),
        ("hyperparameter", "seed: 3407, torch.manual_seed(42)"),
        ("git_commit", f"commit_sha: {hexs(40)}"),
        ("hyperparameter", "HF_HUB_ENABLE_HF_TRANSFER=1 HF_ENDPOINT=https://hf-mirror.com"),
        ("hyperparameter", "PASSWORD_MIN_LENGTH=12 TOKEN_LIMIT=4096 KEY_PREFIX=rag:"),
        ("langchain_keys", 'session_key="default"'),
        ("placeholder_caps", "api_key_env: OPENAI_API_KEY"),
        ("code_reference", "password_hash = bcrypt.hashpw(pw, bcrypt.gensalt())"),
        ("path", "docker run -e PASSWORD_FILE=/run/secrets/db_password postgres:16"),
        ("path", "--password-file ./pw.txt"),
        ("placeholder_word", "bearer_token: ''"),
        ("token_prose", "ghp_ 开头的是 GitHub 的 token，AKIA 开头的是 AWS Access Key ID"),
        ("code_reference", "base64.b64encode(b'user:pass')"),
        ("host_port", "http://localhost:5173/@vite/client"),
        ("npm_scope", "npm i -g @vue/cli@5.0.8"),
        ("shell_prompt", "root@autodl-container-7f3a:~# python app.py"),
        ("uuid_request_id", f"x-request-id: {uuid()}"),
        ("hyperparameter", "key_dim=64, value_dim=64, num_key_value_heads=8"),
    ]
    return [LookAlike(shape, text, held_out=True) for shape, text in lines]


def _mark_held_out(cases: list[Secret]) -> list[Secret]:
    return [Secret(c.shape, c.text, c.values, held_out=True) for c in cases]


SECRETS: list[Secret] = _mark_held_out(_held_out_secrets()) + _design_secrets() + _red_team_secrets()
LOOK_ALIKES: list[LookAlike] = _held_out_look_alikes() + _design_look_alikes() + _red_team_look_alikes()
