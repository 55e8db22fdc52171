"""Fetch the installed ``openai`` version's own API tests and run them against a base URL.

* :func:`sdk_tests_dir` — ``pip download --no-binary :all: --no-deps openai==<installed>`` once,
  keeping only the sdist's ``tests/`` and ``pyproject.toml`` (its pytest settings) under the
  git-ignored ``test-artifacts/openai-sdist/<version>/``; nothing of it enters the repository.
* :func:`ensure_test_deps` — pip-installs what those tests import beyond OneRelay's own test
  extra (``rich`` for ``tests/utils.py``, ``aiohttp`` for the ``async_client`` "aiohttp"
  parametrisation), only when missing.
* :func:`run_sdk_tests` — one ``python -m pytest`` subprocess (awaited, so the in-process fake and
  OneRelay keep serving) with ``TEST_API_BASE_URL`` set, results written as JUnit XML;
  :func:`parse_junit` reads them back as ``{test id: Outcome}``.
* :func:`compare` — the per-resource table and the tests that passed directly but not through
  OneRelay: those that fail as a :data:`KNOWN_DIVERGENCES` entry says (the route and the answer
  OneRelay gives on purpose, or a defect being fixed), and the regressions, which fail the test.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
CACHE = ROOT / "test-artifacts" / "openai-sdist"  # /test-artifacts/ is in .gitignore

# The api_resources test files of the endpoints OneRelay relays (paths under tests/api_resources).
# Files, fine-tuning, assistants, batches, vector stores... are out of scope: OneRelay answers
# them 501 as One API does. A file this SDK version does not ship is skipped.
SELECTED = [
    "chat/test_completions.py",
    "test_completions.py",
    "test_embeddings.py",
    "test_images.py",
    "audio/test_speech.py",
    "audio/test_transcriptions.py",
    "audio/test_translations.py",
    "test_moderations.py",
    "test_models.py",
    "test_responses.py",
    "responses/test_input_items.py",
    "responses/test_input_tokens.py",
]

# What the SDK's tests import that OneRelay's `.[test]` extra does not install: module → pip requirement.
SDK_TEST_DEPS = {"rich": "rich>=13.7.1", "aiohttp": "aiohttp>=3.14.4", "multidict": "multidict", "yarl": "yarl"}

PIP = [sys.executable, "-m", "pip", "--disable-pip-version-check"]


def sdk_version() -> str:
    import openai

    return openai.__version__


def sdk_tests_dir(version: str | None = None) -> Path:
    """The extracted sdist (``tests/`` + ``pyproject.toml``) of ``openai==version``, cached."""
    version = version or sdk_version()
    dest = CACHE / version
    if (dest / "tests" / "api_resources").is_dir() and (dest / "pyproject.toml").is_file():
        return dest
    CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
        proc = subprocess.run([*PIP, "download", "--quiet", "--no-binary", ":all:", "--no-deps",
                               f"openai=={version}", "-d", tmp], capture_output=True, text=True, timeout=600)
        if proc.returncode != 0:
            raise RuntimeError(f"pip download openai=={version} failed:\n{proc.stdout}\n{proc.stderr}")
        archives = [p for p in Path(tmp).iterdir() if p.name.endswith((".tar.gz", ".zip"))]
        assert len(archives) == 1, archives
        out = Path(tmp) / "x"
        with tarfile.open(archives[0]) as tar:
            top = f"openai-{version}/"
            members = [m for m in tar.getmembers()
                       if m.name == top + "pyproject.toml" or m.name.startswith(top + "tests/")]
            for m in members:
                m.name = m.name[len(top):]
            tar.extractall(out, members=members, filter="data")
        if dest.exists():
            shutil.rmtree(dest)
        out.rename(dest)
    return dest


def ensure_test_deps() -> list[str]:
    """pip-install the SDK tests' own imports that are missing; returns what was installed."""
    missing = [req for mod, req in SDK_TEST_DEPS.items() if importlib.util.find_spec(mod) is None]
    if missing:
        proc = subprocess.run([*PIP, "install", "--quiet", *missing], capture_output=True, text=True, timeout=600)
        if proc.returncode != 0:
            raise RuntimeError(f"pip install {missing} failed:\n{proc.stdout}\n{proc.stderr}")
        importlib.invalidate_caches()
    return missing


def selected_files(sdk_dir: Path) -> list[str]:
    """``SELECTED`` as paths relative to ``sdk_dir``, those this version ships."""
    return [f"tests/api_resources/{f}" for f in SELECTED if (sdk_dir / "tests" / "api_resources" / f).is_file()]


_MODEL_RES = [
    re.compile(r"""\bmodel\s*=\s*"([^"]+)\""""),
    re.compile(r""""model"\s*:\s*"([^"]+)\""""),
    re.compile(r"""\bmodels\.(?:with_raw_response\.|with_streaming_response\.)?(?:retrieve|delete)\(\s*"([^"]+)\""""),
]


def models_used(sdk_dir: Path, files: list[str]) -> list[str]:
    """Every model name the selected tests send (in bodies or as a /models/{model} path)."""
    names: set[str] = set()
    for f in files:
        text = (sdk_dir / f).read_text()
        for rx in _MODEL_RES:
            names.update(rx.findall(text))
    return sorted(names)


_RESPONSE_ID_RES = [
    re.compile(r"""\bresponse_id\s*=\s*"([^"]+)\""""),
    re.compile(r"""\bresponses\.(?:with_raw_response\.|with_streaming_response\.)?(?:retrieve|delete|cancel)\(\s*"([^"]+)\""""),
]


def response_ids_used(sdk_dir: Path, files: list[str]) -> list[str]:
    """The Responses ids the by-id tests (retrieve, delete, cancel, input_items) ask for."""
    ids: set[str] = set()
    for f in files:
        if "respons" in f:
            text = (sdk_dir / f).read_text()
            for rx in _RESPONSE_ID_RES:
                ids.update(rx.findall(text))
    return sorted(ids)


async def run_sdk_tests(sdk_dir: Path, files: list[str], base_url: str, junit: Path, *,
                        api_key: str | None = None, timeout: float = 300) -> tuple[int, str]:
    """Runs the SDK's tests in ``files`` against ``base_url``; (exit code, output)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "PYTEST_"))}
    env.update({
        "TEST_API_BASE_URL": base_url,
        "PYTHONPATH": str(HERE),  # onerelay_sdk_plugin; never the repo root (its `tests` would shadow the SDK's)
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
    })
    if api_key:
        env["ONERELAY_CONFORMANCE_API_KEY"] = api_key
    cmd = [sys.executable, "-m", "pytest", *files,
           "-c", str(sdk_dir / "pyproject.toml"), "--rootdir", str(sdk_dir),
           "-o", "addopts=", "-p", "no:cacheprovider", "-p", "pytest_asyncio.plugin",
           "-p", "onerelay_sdk_plugin", "-q", "--tb=line", "-o", "junit_family=xunit2",
           "--junitxml", str(junit)]
    proc = await asyncio.create_subprocess_exec(*cmd, cwd=str(sdk_dir), env=env, stdin=asyncio.subprocess.DEVNULL,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout)
    except asyncio.TimeoutError:
        proc.kill()
        out, _ = await proc.communicate()
        return -1, out.decode(errors="replace") + f"\n[timed out after {timeout} s]"
    assert proc.returncode is not None
    return proc.returncode, out.decode(errors="replace")


@dataclass
class Outcome:
    status: str  # passed / failed / error / skipped
    message: str = ""


def parse_junit(path: Path) -> dict[str, Outcome]:
    """``{"tests/api_resources/...::Class::test[param]": Outcome}`` from a JUnit XML report."""
    results: dict[str, Outcome] = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        cls = case.get("classname", "")
        mod, _, klass = cls.rpartition(".")
        test_id = f"{mod.replace('.', '/')}.py::{klass}::{case.get('name')}"
        status, message = "passed", ""
        for tag in ("failure", "error", "skipped"):
            el = case.find(tag)
            if el is not None:
                status = "failed" if tag == "failure" else tag
                message = (el.get("message") or el.text or "").strip()
                break
        results[test_id] = Outcome(status, message)
    return results


def resource_of(test_id: str) -> str:
    """``tests/api_resources/audio/test_speech.py::...`` → ``audio.speech``."""
    path = test_id.split("::", 1)[0].removeprefix("tests/api_resources/").removesuffix(".py")
    return ".".join(p.removeprefix("test_") for p in path.split("/"))


_REQUEST_ID = re.compile(r"\s*\(request id: [^)]*\)")


def first_line(o: Outcome) -> str:
    return _REQUEST_ID.sub("", o.message.strip().splitlines()[0]) if o.message.strip() else ""


def grouped(outcomes: dict[str, Outcome]) -> list[tuple[str, int, str]]:
    """(``file::test_name``, how many variants, first line of the failure) with the sync/async
    classes and the loose/strict/aiohttp parametrisations folded, one row per distinct message."""
    rows: dict[tuple[str, str], int] = {}
    for tid, o in outcomes.items():
        path, _, rest = tid.partition("::")
        name = rest.split("::")[-1].split("[")[0]
        key = (f"{path}::{name}", f"{o.status}: {first_line(o)}")
        rows[key] = rows.get(key, 0) + 1
    return [(k[0], n, k[1]) for k, n in sorted(rows.items())]


@dataclass(frozen=True)
class Divergence:
    """SDK tests that fail through OneRelay for a known reason, with the failure they must show."""

    tests: str  # regex searched in "path::test_name" (sync/async and parametrisations folded)
    failure: str  # regex searched in the failure's first line
    reason: str
    bug: bool = False  # a defect to fix (then delete this entry), not a choice


KNOWN_DIVERGENCES = [
    Divergence(
        r"chat/test_completions\.py::test_(method|raw_response|streaming_response)_(retrieve|update|list|delete)"
        r"(_with_all_params)?$",
        r"404 - Invalid URL \((GET|POST|DELETE) /v1/chat/completions",
        "stored chat completions (GET /v1/chat/completions[/{id}], POST/DELETE /v1/chat/completions/{id}) are not "
        "routed, as in One API: OneRelay does not remember which channel stored a completion"),
    Divergence(
        r"test_models\.py::test_(method|raw_response|streaming_response)_delete$",
        r"501 - API not implemented",
        "DELETE /v1/models/{model} answers 501 api_not_implemented, as One API does"),
    Divergence(
        r"test_responses\.py::test_(method|raw_response|streaming_response)_create_overload_[12]$"
        r"|responses/test_input_tokens\.py::test_(method|raw_response|streaming_response)_count$",
        r"400 - `model` is required",
        "OneRelay routes by model; the SDK lets responses.create and input_tokens.count omit it"),
]


def known_divergence(test_id: str, o: Outcome) -> Divergence | None:
    path, _, rest = test_id.partition("::")
    key = f"{path}::{rest.split('::')[-1].split('[')[0]}"
    line = first_line(o)
    return next((d for d in KNOWN_DIVERGENCES if re.search(d.tests, key) and re.search(d.failure, line)), None)


@dataclass
class Comparison:
    table: str
    regressions: dict[str, Outcome]  # passed directly, not through OneRelay, for no known reason
    known: dict[str, tuple[Outcome, Divergence]]  # passed directly, failed through OneRelay as known
    gains: list[str]  # passed only through OneRelay (worth a look: the fake may be wrong)
    stale: list[Divergence]  # known divergences no test shows any more


def compare(direct: dict[str, Outcome], relayed: dict[str, Outcome]) -> Comparison:
    rows: dict[str, list[int]] = {}
    regressions: dict[str, Outcome] = {}
    known: dict[str, tuple[Outcome, Divergence]] = {}
    gains: list[str] = []
    for tid in sorted(set(direct) | set(relayed)):
        d = direct.get(tid, Outcome("missing")).status == "passed"
        r = relayed.get(tid, Outcome("missing")).status == "passed"
        row = rows.setdefault(resource_of(tid), [0, 0, 0, 0, 0])
        row[0] += 1
        row[1] += d
        row[2] += r
        if d and not r:
            o = relayed.get(tid, Outcome("missing", "not run through OneRelay"))
            div = known_divergence(tid, o)
            if div is None:
                row[4] += 1
                regressions[tid] = o
            else:
                row[3] += 1
                known[tid] = (o, div)
        elif r and not d:
            gains.append(tid)
    w = max([len("resource"), *map(len, rows)])
    lines = [f"{'resource':<{w}}  tests  direct  OneRelay  known  regressions"]
    tot = [0, 0, 0, 0, 0]
    for res, (n, d, r, k, x) in sorted(rows.items()):
        lines.append(f"{res:<{w}}  {n:>5}  {d:>6}  {r:>8}  {k:>5}  {x:>11}")
        tot = [a + b for a, b in zip(tot, (n, d, r, k, x))]
    lines.append(f"{'total':<{w}}  {tot[0]:>5}  {tot[1]:>6}  {tot[2]:>8}  {tot[3]:>5}  {tot[4]:>11}")
    shown = {id(div) for _, div in known.values()}
    stale = [d for d in KNOWN_DIVERGENCES if id(d) not in shown]
    return Comparison("\n".join(lines), regressions, known, gains, stale)
