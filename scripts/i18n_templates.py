"""Every message template OneRelay's own code can answer or log, read from the source (AST).

A template is the first argument (or ``message=``) of an error constructor (``ApiError``,
``GatewayError`` and its subclasses, ``Invalid``, ``OptionError``, any ``*Error``), of
``self.fail``/``self.ok(message=)``, and the ``content=``/``note`` of a log record:
string literals as they are, f-strings with each ``{expr}`` as a ``{name}`` placeholder,
both branches of ``a if c else b``, ``"a" + x``. ``tests/test_i18n.py`` checks that the
zh-CN catalog translates each; ``python scripts/i18n_templates.py --missing`` lists the
untranslated ones (``--json`` prints all, with where they are).
"""

from __future__ import annotations

import ast
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("handlers", "relay", "models", "services", "schemas", "adaptors")
SKIP = {"services/locales", "services/i18n.py", "services/console_build.py", "services/migrations.py"}

# not messages: a bare value or identifier, or the request-id suffix put on any message
INTERNAL = re.compile(r"^(?:\{\w+\}|[\w.]+|\{\w+\} \(request id: \{\w+\}\))$")


def _name(node: ast.AST) -> str:
    text = ast.unparse(node)
    name = re.sub(r"\W+", "_", text).strip("_").lower()
    return (name[:24] or "value").rstrip("_")


def _templates(node: ast.AST) -> list[str]:
    """The template(s) an expression stands for; [] when it is not text written here."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.JoinedStr):
        out = []
        for v in node.values:
            if isinstance(v, ast.Constant):
                out.append(str(v.value).replace("{", "{{").replace("}", "}}") if False else str(v.value))
            elif isinstance(v, ast.FormattedValue):
                out.append("{" + _name(v.value) + "}")
        return ["".join(out)]
    if isinstance(node, ast.IfExp):
        return _templates(node.body) + _templates(node.orelse)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _templates(node.left), _templates(node.right)
        if left or right:
            return [a + b for a in (left or ["{" + _name(node.left) + "}"])
                    for b in (right or ["{" + _name(node.right) + "}"])]
    return []


def _callee(node: ast.Call) -> str:
    f = node.func
    if isinstance(f, ast.Name):
        return f.id
    if isinstance(f, ast.Attribute):
        return f.attr
    return ""


MESSAGE_CALLS = {"fail", "Invalid", "ApiError", "OptionError"}
CONTENT_CALLS = {"consume", "system", "write_now", "add", "test", "ok", "error"}
LOG_CALLS = {"system_log", "record_log"}  # (ctx, user_id, username, [type,] content, ...)
MESSAGE_NAMES = {"note", "content", "message", "msg"}  # variables that hold a message


def extract(root: Path = ROOT) -> dict[str, list[str]]:
    """template → ["path:line", ...]"""
    found: dict[str, list[str]] = {}

    def add(t: str, where: str) -> None:
        t = t.strip()
        if t and not INTERNAL.match(t) and re.search(r"[A-Za-z]{2}", re.sub(r"\{\w+\}", "", t)):
            found.setdefault(t, []).append(where)

    for pkg in PACKAGES:
        for path in sorted((root / pkg).rglob("*.py")):
            rel = path.relative_to(root).as_posix()
            if any(rel == s or rel.startswith(s + "/") for s in SKIP):
                continue
            tree = ast.parse(path.read_text(encoding="utf-8"), rel)
            for node in ast.walk(tree):
                if isinstance(node, ast.Call):
                    name = _callee(node)
                    where = f"{rel}:{node.lineno}"
                    if name in MESSAGE_CALLS or (name.endswith("Error") and name[:1].isupper()) \
                            or name in ("NotFound", "BadRequest", "Forbidden", "QuotaExceeded",
                                        "NoChannel", "UpstreamTimeout", "NotImplementedAPI"):
                        if node.args:
                            for t in _templates(node.args[0]):
                                add(t, where)
                    if name == "LoginVerdict" and len(node.args) > 1:  # (retry-after, message)
                        for t in _templates(node.args[1]):
                            add(t, where)
                    if name in LOG_CALLS:
                        for arg in node.args[3:]:
                            for t in _templates(arg):
                                add(t, where)
                    for kw in node.keywords:
                        if kw.arg == "message" or (kw.arg == "note" and rel != "adaptors/registry.py") \
                                or (kw.arg == "content" and name in CONTENT_CALLS):
                            for t in _templates(kw.value):
                                add(t, where)
                elif isinstance(node, (ast.Assign, ast.AugAssign)):
                    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                    if any(isinstance(t, ast.Name) and t.id in MESSAGE_NAMES for t in targets):
                        for t in _templates(node.value):
                            for part in t.split("; "):
                                add(part, f"{rel}:{node.lineno}")
                elif isinstance(node, ast.Return) and rel == "handlers/ratelimit.py" \
                        and isinstance(node.value, ast.Tuple) and node.value.elts:
                    for t in _templates(node.value.elts[0]):  # (message, retry-after) refusals
                        add(t, f"{rel}:{node.lineno}")
    return found


def main(argv: list[str]) -> int:
    found = extract()
    if "--missing" in argv:
        sys.path.insert(0, str(ROOT))
        from services.i18n import templates_missing

        missing = templates_missing(found)
        for t in missing:
            print(json.dumps(t, ensure_ascii=False), "#", found[t][0])
        print(f"{len(missing)} of {len(found)} templates untranslated", file=sys.stderr)
        return 1 if missing else 0
    if "--json" in argv:
        print(json.dumps(found, ensure_ascii=False, indent=1))
        return 0
    for t in sorted(found):
        print(t)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
