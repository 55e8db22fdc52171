"""A One API database for the importer tests: the tables as GORM's AutoMigrate creates them on
SQLite, MySQL/MariaDB and PostgreSQL (One API's model/*.go of the 2023-2025 releases), and
realistic rows: unicode names, multi-line channel keys, unlimited, expired and exhausted tokens,
an orphan token, used and disabled codes, a channel with model_mapping and config, a legacy
``other`` field, options OneRelay knows and does not, and logs."""

from __future__ import annotations

import json
from typing import Any

import bcrypt

# (column, logical type, extra DDL) per table; "old" marks columns that later releases added.
SCHEMA: dict[str, list[tuple[str, str, str]]] = {
    "users": [
        ("id", "pk", ""), ("username", "str_idx", "UNIQUE"), ("password", "text", "NOT NULL"),
        ("display_name", "str_idx", ""), ("role", "int", "DEFAULT 1"), ("status", "int", "DEFAULT 1"),
        ("email", "str_idx", ""), ("github_id", "str_idx", ""), ("wechat_id", "str_idx", ""),
        ("lark_id", "str_idx", "new"), ("oidc_id", "str_idx", "new"), ("access_token", "char32", ""),
        ("quota", "bigint", "DEFAULT 0"), ("used_quota", "bigint", "DEFAULT 0"),
        ("request_count", "int", "DEFAULT 0"), ("group", "varchar32", "DEFAULT 'default'"),
        ("aff_code", "varchar32", ""), ("inviter_id", "int", ""),
    ],
    "tokens": [
        ("id", "pk", ""), ("user_id", "int", ""), ("key", "char48", ""), ("status", "int", "DEFAULT 1"),
        ("name", "str_idx", ""), ("created_time", "bigint", ""), ("accessed_time", "bigint", ""),
        ("expired_time", "bigint", "DEFAULT -1"), ("remain_quota", "bigint", "DEFAULT 0"),
        ("unlimited_quota", "bool", "DEFAULT false"), ("used_quota", "bigint", "DEFAULT 0"),
        ("models", "text", "new"), ("subnet", "str", "new DEFAULT ''"),
    ],
    "channels": [
        ("id", "pk", ""), ("type", "int", "DEFAULT 0"), ("key", "text", ""), ("status", "int", "DEFAULT 1"),
        ("name", "str_idx", ""), ("weight", "uint", "DEFAULT 0"), ("created_time", "bigint", ""),
        ("test_time", "bigint", ""), ("response_time", "int", ""), ("base_url", "str", "DEFAULT ''"),
        ("other", "str", ""), ("balance", "float", ""), ("balance_updated_time", "bigint", ""),
        ("models", "str", ""), ("group", "varchar32", "DEFAULT 'default'"), ("used_quota", "bigint", "DEFAULT 0"),
        ("model_mapping", "varchar1024", "DEFAULT ''"), ("priority", "bigint", "DEFAULT 0"),
        ("config", "str", "new"), ("system_prompt", "text", "new"),
    ],
    "abilities": [
        ("group", "varchar32", ""), ("model", "str_key", ""), ("channel_id", "int", ""),
        ("enabled", "bool", ""), ("priority", "bigint", "DEFAULT 0"),
    ],
    "redemptions": [
        ("id", "pk", ""), ("user_id", "int", ""), ("key", "char32", ""), ("status", "int", "DEFAULT 1"),
        ("name", "str_idx", ""), ("quota", "bigint", "DEFAULT 100"), ("created_time", "bigint", ""),
        ("redeemed_time", "bigint", ""),
    ],
    "options": [("key", "str_key", ""), ("value", "text", "")],
    "logs": [
        ("id", "pk", ""), ("user_id", "int", ""), ("created_at", "bigint", ""), ("type", "int", ""),
        ("content", "text", ""), ("username", "str_idx", "DEFAULT ''"), ("token_name", "str_idx", "DEFAULT ''"),
        ("model_name", "str_idx", "DEFAULT ''"), ("quota", "int", "DEFAULT 0"),
        ("prompt_tokens", "int", "DEFAULT 0"), ("completion_tokens", "int", "DEFAULT 0"),
        ("channel_id", "int", ""), ("request_id", "str", "new DEFAULT ''"),
        ("elapsed_time", "bigint", "new DEFAULT 0"), ("is_stream", "bool", "new DEFAULT false"),
        ("system_prompt_reset", "bool", "new DEFAULT false"),
    ],
}
PRIMARY = {"abilities": ("group", "model", "channel_id"), "options": ("key",)}
UNIQUE = {"users": ("access_token", "aff_code"), "tokens": ("key",), "redemptions": ("key",)}

TYPES = {  # logical -> (sqlite, mysql, postgres), as GORM maps Go types per dialect
    "pk": ("integer", "bigint AUTO_INCREMENT", "bigserial"),
    "str_idx": ("text", "varchar(191)", "text"), "str_key": ("text", "varchar(191)", "text"),
    "str": ("text", "longtext", "text"), "text": ("text", "text", "text"),
    "int": ("integer", "bigint", "bigint"), "bigint": ("integer", "bigint", "bigint"),
    "uint": ("integer", "bigint unsigned", "bigint"), "bool": ("numeric", "boolean", "boolean"),
    "float": ("real", "double", "decimal"), "char32": ("char(32)", "char(32)", "char(32)"),
    "char48": ("char(48)", "char(48)", "char(48)"), "varchar32": ("varchar(32)", "varchar(32)", "varchar(32)"),
    "varchar1024": ("varchar(1024)", "varchar(1024)", "varchar(1024)"),
}
ENGINES = ("sqlite", "mysql", "postgres")


def quote(engine: str, name: str) -> str:
    return f"`{name}`" if engine in ("mysql", "sqlite") else f'"{name}"'


def ddl(engine: str, old: bool = False) -> list[str]:
    """CREATE TABLE/INDEX statements; ``old``: a release before the columns marked "new"."""
    e = ENGINES.index(engine)
    out = []
    for table, cols in SCHEMA.items():
        parts = []
        for name, kind, extra in cols:
            if "new" in extra.split() and old:
                continue
            extra = extra.replace("new", "").strip()
            if kind == "bool" and engine != "postgres":
                extra = extra.replace("false", "0")
            parts.append(f"{quote(engine, name)} {TYPES[kind][e]} {extra}".strip())
        pk = PRIMARY.get(table, ("id",))
        parts.append("PRIMARY KEY (" + ",".join(quote(engine, c) for c in pk) + ")")
        tail = " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4" if engine == "mysql" else ""
        out.append(f"CREATE TABLE {quote(engine, table)} ({','.join(parts)}){tail}")
        for col in UNIQUE.get(table, ()):
            out.append(f"CREATE UNIQUE INDEX {quote(engine, f'idx_{table}_{col}')} ON "
                       f"{quote(engine, table)} ({quote(engine, col)})")
        if table == "logs":
            out.append(f"CREATE INDEX {quote(engine, 'idx_created_at_type')} ON {quote(engine, 'logs')} "
                       f"({quote(engine, 'created_at')},{quote(engine, 'type')})")
    return out


def go_bcrypt(password: str) -> str:
    """A bcrypt hash as Go's golang.org/x/crypto/bcrypt writes it ($2a$)."""
    return "$2a$" + bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode()[4:]


NOW = 1_730_000_000
ROOT_KEY = "RootKey0123456789" + "A1b2C3d4E5f6A7b8C9d0E1f2A3b4C5d"  # 48 chars, One API's shape
ZHANG_KEY = "ZhangKey01234567" + "F1e2D3c4B5a6F7e8D9c0B1a2F3e4D5c6"
EXPIRED_KEY = "ExpiredKey012345" + "0a1B2c3D4e5F6a7B8c9D0e1F2a3B4c5D"
EXHAUSTED_KEY = "ExhaustedKey0123" + "9f8E7d6C5b4A3f2E1d0C9b8A7f6E5d4C"
ORPHAN_KEY = "OrphanKey0123456" + "11112222333344445555666677778888"
OLD_KEY = "OldRowKey0123456" + "aaaabbbbccccddddeeeeffff00001111"
ROOT_PASSWORD = "root-pass-2024"
ZHANG = "张三"
ZHANG_PASSWORD = "zhangsan-密码8"
ACCESS = "0123456789abcdef0123456789abcdef"
N_LOGS = 2345


def rows(upstream_url: str) -> dict[str, list[dict[str, Any]]]:
    users = [
        dict(id=1, username="root", password=go_bcrypt(ROOT_PASSWORD), display_name="Root User", role=100,
             status=1, email="root@example.com", github_id="", wechat_id="", lark_id="", oidc_id="",
             access_token=ACCESS, quota=500_000_000_000_000, used_quota=12_345, request_count=17,
             group="default", aff_code="RoOt", inviter_id=0),
        dict(id=2, username=ZHANG, password=go_bcrypt(ZHANG_PASSWORD), display_name="张三 Zhang 🚀", role=1,
             status=1, email="zhang@example.com", github_id="gh-4242", wechat_id="", lark_id="", oidc_id="",
             access_token=None, quota=1_000_000, used_quota=5_000, request_count=7, group="vip",
             aff_code="Zx9Q", inviter_id=1),
        dict(id=3, username="deleted_0d4c4a1e2f3b4c5d6e7f8091a2b3c4d5", password=go_bcrypt("whatever1"),
             display_name="gone", role=1, status=3, email="", github_id="", wechat_id="", lark_id="",
             oidc_id="", access_token=None, quota=0, used_quota=100, request_count=1, group="default",
             aff_code="dEl3", inviter_id=0),
        dict(id=5, username="oidc_5", password="", display_name="Ō IDC", role=1, status=2, email="",
             github_id="", wechat_id="", lark_id="", oidc_id="oidc-sub-55", access_token=None, quota=10,
             used_quota=0, request_count=0, group="default", aff_code=None, inviter_id=2),
    ]
    tokens = [
        dict(id=1, user_id=1, key=ROOT_KEY, status=1, name="root key", created_time=NOW, accessed_time=NOW,
             expired_time=-1, remain_quota=0, unlimited_quota=True, used_quota=12_345, models="", subnet=""),
        dict(id=2, user_id=2, key=ZHANG_KEY, status=1, name="笔记本 key", created_time=NOW, accessed_time=NOW,
             expired_time=-1, remain_quota=500_000, unlimited_quota=False, used_quota=5_000,
             models="gpt-3.5-turbo,gpt-4o", subnet="127.0.0.0/8,::1/128"),
        dict(id=3, user_id=2, key=EXPIRED_KEY, status=1, name="old one", created_time=NOW - 9_000_000,
             accessed_time=NOW - 9_000_000, expired_time=NOW - 86_400, remain_quota=1000, unlimited_quota=False,
             used_quota=0, models="", subnet=""),
        dict(id=4, user_id=2, key=EXHAUSTED_KEY, status=4, name="empty", created_time=NOW, accessed_time=NOW,
             expired_time=-1, remain_quota=0, unlimited_quota=False, used_quota=777, models="", subnet=""),
        dict(id=6, user_id=99, key=ORPHAN_KEY, status=1, name="orphan", created_time=NOW, accessed_time=NOW,
             expired_time=-1, remain_quota=5, unlimited_quota=False, used_quota=0, models="", subnet=""),
        dict(id=8, user_id=2, key=OLD_KEY, status=1, name="pre-models row", created_time=NOW,
             accessed_time=NOW, expired_time=-1, remain_quota=0, unlimited_quota=True, used_quota=0,
             models=None, subnet=None),
    ]
    channels = [
        dict(id=1, type=1, key="sk-upstream-a\nsk-upstream-b\n", status=1, name="OpenAI 主渠道", weight=1,
             created_time=NOW, test_time=NOW + 60, response_time=321, base_url=upstream_url, other="",
             balance=12.5, balance_updated_time=NOW, models="gpt-3.5-turbo,gpt-4o", group="default,vip",
             used_quota=999_999, model_mapping='{"gpt-4o": "gpt-3.5-turbo"}', priority=0,
             config='{"region": "", "user_id": "org-1"}', system_prompt=""),
        dict(id=2, type=3, key="azure-key", status=2, name="Azure (disabled)", weight=None, created_time=NOW,
             test_time=0, response_time=0, base_url="https://example.openai.azure.com", other="2024-02-01",
             balance=0, balance_updated_time=0, models="gpt-4o", group="default", used_quota=0,
             model_mapping=None, priority=None, config="", system_prompt=None),
        dict(id=4, type=14, key="sk-ant-xyz", status=3, name="Claude 自动禁用", weight=0, created_time=NOW,
             test_time=0, response_time=0, base_url=None, other=None, balance=0, balance_updated_time=0,
             models="claude-3-haiku-20240307", group="vip", used_quota=10, model_mapping="", priority=5,
             config="{}", system_prompt="你是一个有帮助的助手。"),
        dict(id=7, type=999, key="k", status=1, name="future type", weight=0, created_time=NOW, test_time=0,
             response_time=0, base_url="", other="", balance=0, balance_updated_time=0, models="m-x",
             group="default", used_quota=0, model_mapping="", priority=0, config="", system_prompt=""),
    ]
    abilities = []
    for ch in channels:
        for g in ch["group"].split(","):
            for m in ch["models"].split(","):
                abilities.append({"group": g, "model": m, "channel_id": ch["id"], "enabled": ch["status"] == 1,
                                  "priority": ch["priority"]})
    redemptions = [
        dict(id=1, user_id=1, key="a" * 32, status=1, name="春节礼包", quota=100_000, created_time=NOW,
             redeemed_time=0),
        dict(id=2, user_id=1, key="b" * 32, status=3, name="used one", quota=5_000, created_time=NOW,
             redeemed_time=NOW + 5),
        dict(id=3, user_id=1, key="c" * 32, status=2, name="disabled", quota=1, created_time=NOW,
             redeemed_time=0),
    ]
    options = [
        {"key": "SystemName", "value": "我的 One API"},
        {"key": "RegisterEnabled", "value": "false"},
        {"key": "QuotaPerUnit", "value": "500000"},
        {"key": "ModelRatio", "value": json.dumps({"gpt-3.5-turbo": 0.75, "gpt-4o": 2.5})},
        {"key": "GroupRatio", "value": json.dumps({"default": 1, "vip": 2, "svip": 1})},
        {"key": "SMTPToken", "value": "smtp-secret"},
        {"key": "ChannelDisableThreshold", "value": "abc"},
        {"key": "SomeFutureOption", "value": "x"},
    ]
    logs = []
    for i in range(1, N_LOGS + 1):
        logs.append(dict(id=i, user_id=2 if i % 2 else 1, created_at=NOW + i, type=2 if i % 10 else 1,
                         content=f"模型倍率 0.75，第 {i} 条", username=ZHANG if i % 2 else "root",
                         token_name="笔记本 key", model_name="gpt-3.5-turbo", quota=i, prompt_tokens=9,
                         completion_tokens=12, channel_id=1, request_id=f"req-{i}", elapsed_time=120,
                         is_stream=bool(i % 3 == 0), system_prompt_reset=False))
    logs.append(dict(id=N_LOGS + 5, user_id=1, created_at=NOW, type=9, content="from a fork", username="root",
                     token_name="", model_name="", quota=0, prompt_tokens=0, completion_tokens=0, channel_id=0,
                     request_id="", elapsed_time=0, is_stream=False, system_prompt_reset=False))
    return {"users": users, "tokens": tokens, "channels": channels, "abilities": abilities,
            "redemptions": redemptions, "options": options, "logs": logs}


def populate(conn: Any, engine: str, upstream_url: str, old: bool = False) -> None:
    """Create the tables and insert the rows through a DB-API connection."""
    ph = "?" if engine == "sqlite" else "%s"
    cur = conn.cursor()
    for stmt in ddl(engine, old):
        cur.execute(stmt)
    for table, items in rows(upstream_url).items():
        allowed = {c for c, _, extra in SCHEMA[table] if not (old and "new" in extra.split())}
        for row in items:
            cols = [c for c in row if c in allowed]
            vals = []
            for c in cols:
                v = row[c]
                if isinstance(v, bool) and engine != "postgres":
                    v = int(v)
                vals.append(v)
            cur.execute(f"INSERT INTO {quote(engine, table)} ({','.join(quote(engine, c) for c in cols)}) "
                        f"VALUES ({','.join([ph] * len(cols))})", tuple(vals))
    if engine == "postgres":  # keep the sequences where GORM would have them
        for table in ("users", "tokens", "channels", "redemptions", "logs"):
            cur.execute(f"SELECT setval('{table}_id_seq', (SELECT MAX(id) FROM \"{table}\"))")
    conn.commit()
    cur.close()
