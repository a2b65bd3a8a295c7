"""The extension packaged with Slicer's own ``package_python_extension.py`` and CMake machinery
(``slicerMacroBuildScriptedModule``, the extension description and CPack; see ../shared/slicer/README.md),
and the Extensions Index's own checks of ``REACTKD.json`` run offline."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tarfile
import types
from pathlib import Path

import pytest

from slicer_code import EXTENSIONS_INDEX, PACKAGER, ROOT, SLICER_SRC, missing

MIN_CMAKE = (3, 31)  # Slicer's CMake files set policy CMP0177 (CMake 3.31)


def _cmake() -> tuple[str | None, str]:
    """``(cmake executable, "")`` or ``(None, skip reason)``: the venv's (pip) CMake first, then PATH."""
    for candidate in (Path(sys.executable).with_name("cmake"), shutil.which("cmake")):
        if candidate and Path(candidate).is_file():
            out = subprocess.run([str(candidate), "--version"], capture_output=True, text=True).stdout
            version = tuple(int(v) for v in re.search(r"(\d+)\.(\d+)", out).groups())
            if version >= MIN_CMAKE:
                return str(candidate), ""
    return None, "CMake >= 3.31 not found (pip install 'cmake>=3.31', the test extra)"


def _cmake_set(text: str, var: str) -> str:
    return re.search(rf'set\({var}\s+"([^"]*)"\)', text).group(1)


def _source_tree(dest: Path) -> Path:
    """The repository's files as a clone has them (tracked and new, not ignored) under ``dest/REACTKD``."""
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, capture_output=True,
                           check=True).stdout.decode().split("\0")
    src = dest / "REACTKD"
    for name in filter(None, files):
        if (ROOT / name).is_file():
            (src / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, src / name)
    return src


def _module_files(module: str) -> set[str]:
    """Every file a module's CMakeLists names (scripts and resources), relative to the module folder."""
    text = (ROOT / module / "CMakeLists.txt").read_text()
    names = set()
    for var in ("MODULE_PYTHON_SCRIPTS", "MODULE_PYTHON_RESOURCES"):
        block = re.search(rf"set\({var}\s+(.*?)\)", text, re.S).group(1)
        names |= {w for w in block.split() if not w.startswith("$")}
    return names


@pytest.fixture(scope="module")
def packaged(tmp_path_factory):
    """``(package .tar.gz, build folder)`` of the extension configured, built and packaged by Slicer's code."""
    for reason in (missing(PACKAGER), missing(SLICER_SRC), _cmake()[1]):
        if reason:
            pytest.skip(reason)
    work = tmp_path_factory.mktemp("package")
    src = _source_tree(work)
    out = work / "out"
    proc = subprocess.run([sys.executable, str(PACKAGER), "--ext-src", str(src), "--slicer-src", str(SLICER_SRC),
                           "--cmake", _cmake()[0], "--dummy-build", str(work / "dummy"), "--build-dir",
                           str(work / "build"), "--output-dir", str(out)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    packages = sorted(out.glob("*.tar.gz"))
    assert len(packages) == 1, list(out.iterdir())
    return packages[0], work / "build"


@pytest.mark.slow
def test_package_holds_every_module_file(packaged):
    package, _ = packaged
    with tarfile.open(package) as tar:
        names = tar.getnames()
    prefix = re.compile(r"^[^/]+/lib/Slicer-[\d.]+/qt-scripted-modules/")
    shipped = {prefix.sub("", n) for n in names if prefix.match(n)}
    for module in ("REACTKD", "REACTKDTrainer"):
        expected = _module_files(module)
        assert f"{module}.py" in expected and len(expected) > 1
        assert expected <= shipped, sorted(expected - shipped)
    # and every Python file of the core, not only the ones listed (the lists are generated, never stale)
    core = {p.relative_to(ROOT / "REACTKD").as_posix() for p in (ROOT / "REACTKD" / "reactkd").rglob("*.py")}
    assert core <= shipped, sorted(core - shipped)


@pytest.mark.slow
def test_generated_description_holds_the_full_texts(packaged):
    _, build = packaged
    s4ext = (build / "REACTKD.s4ext").read_text()
    fields = dict(line.split(" ", 1) for line in s4ext.splitlines() if line and not line.startswith("#") and " " in line)
    top = (ROOT / "CMakeLists.txt").read_text()
    # a `;` would make CMake split the value into a list, and the description would stop at it
    assert fields["description"] == _cmake_set(top, "EXTENSION_DESCRIPTION")
    assert fields["category"] == _cmake_set(top, "EXTENSION_CATEGORY")
    assert fields["homepage"] == _cmake_set(top, "EXTENSION_HOMEPAGE")
    assert fields["depends"] == _cmake_set(top, "EXTENSION_DEPENDS")
    assert fields["screenshoturls"] == _cmake_set(top, "EXTENSION_SCREENSHOTURLS")


# --- Extensions Index ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def index_checks():
    """Slicer/ExtensionsIndex's ``check_description_files`` module (needs jsonschema and requests)."""
    if missing(EXTENSIONS_INDEX):
        pytest.skip(missing(EXTENSIONS_INDEX))
    pytest.importorskip("jsonschema", reason="the Extensions Index schema check needs jsonschema (test extra)")
    pytest.importorskip("requests", reason="check_description_files imports requests (test extra)")
    path = EXTENSIONS_INDEX / "check_description_files.py"
    module = types.ModuleType("check_description_files")
    module.__file__ = str(path)
    exec(compile(_source_for_this_python(path.read_text()), str(path), "exec"), module.__dict__)
    return module


def _source_for_this_python(source: str) -> str:
    """The script as written, except where Python < 3.12 cannot compile it: its ``print_categories`` (a
    listing helper, none of the checks) uses a PEP 701 f-string; only lines inside that function are
    replaced by ``pass``, anything else that fails to compile fails the test."""
    lines = source.splitlines()
    while True:
        try:
            compile("\n".join(lines), "check_description_files.py", "exec")
            return "\n".join(lines)
        except SyntaxError as err:
            start = max(i for i, line in enumerate(lines[: err.lineno]) if line.startswith("def "))
            if not lines[start].startswith("def print_categories(") or lines[err.lineno - 1].strip() == "pass":
                raise
            indent = re.match(r"\s*", lines[err.lineno - 1]).group(0)
            lines[err.lineno - 1] = f"{indent}pass"


class _Offline:
    """``requests.get`` for the checks without a network: the index's schemas from ../shared, and the
    raw.githubusercontent.com image URLs answered from this repository's files (what the URL will serve
    once pushed)."""

    RAW = re.compile(r"^https://raw\.githubusercontent\.com/[^/]+/[^/]+/[^/]+/(.+)$")

    def __init__(self):
        self.schemas = {}
        for path in EXTENSIONS_INDEX.glob("schema-*.json"):
            schema = json.loads(path.read_text())
            self.schemas[schema["$id"].split("#")[0]] = schema
        self.asked = []

    def __call__(self, url, timeout=None, **_):
        self.asked.append(url)
        if url in self.schemas:
            return _Response(200, json.dumps(self.schemas[url]).encode(), "application/json")
        match = self.RAW.match(url)
        path = ROOT / match.group(1) if match else None
        if path is not None and path.is_file():
            data = path.read_bytes()  # served as what its bytes are, as GitHub does
            return _Response(200, data, "image/png" if data.startswith(b"\x89PNG\r\n\x1a\n") else "text/plain")
        return _Response(404, b"", "text/plain")


class _Response:
    def __init__(self, status: int, content: bytes, content_type: str):
        from requests.structures import CaseInsensitiveDict

        self.status_code, self.content = status, content
        self.headers = CaseInsensitiveDict({"Content-Type": content_type})
        self.text = content.decode("latin-1")

    def json(self):
        return json.loads(self.content)

    def raise_for_status(self):
        if self.status_code >= 400:
            from requests import HTTPError

            raise HTTPError(f"{self.status_code}")


def test_extensions_index_checks_pass_offline(index_checks, monkeypatch, tmp_path, capsys):
    offline = _Offline()
    monkeypatch.setattr(index_checks.requests, "get", offline)
    entry = ROOT / "REACTKD.json"
    metadata = index_checks.parse_json(str(entry))
    clone = _source_tree(tmp_path)  # what `git clone` of the repository gives
    name = entry.stem
    checks = [(index_checks.check_json_file_format, {"extension_file_path": str(entry)}),
              (index_checks.check_json_schema, {}),
              (index_checks.check_extension_name, {}),
              (index_checks.check_category, {}),
              (index_checks.check_git_repository_name, {}),
              (index_checks.check_scm_url_syntax, {}),
              (index_checks.check_repository_size, {"cloned_repository_folder": str(clone)}),
              (index_checks.check_cmakelists_content, {"cloned_repository_folder": str(clone)}),
              (index_checks.check_license_file, {"cloned_repository_folder": str(clone)})]
    for check, kwargs in checks:
        check(name, metadata, **kwargs)  # raises ExtensionCheckError with the index's own message
    assert any("schema" in url for url in offline.asked)  # the schema was really checked
    assert any(url.endswith("REACTKD.png") for url in offline.asked)  # and the icon/screenshot URLs
    assert "Apache License" in (clone / "LICENSE").read_text()


def test_index_entry_agrees_with_the_cmake_description():
    entry = json.loads((ROOT / "REACTKD.json").read_text())
    top = (ROOT / "CMakeLists.txt").read_text()
    assert entry["category"] == _cmake_set(top, "EXTENSION_CATEGORY")
    assert entry["build_dependencies"] == _cmake_set(top, "EXTENSION_DEPENDS").split()
    repo = entry["scm_url"].removesuffix(".git")
    assert _cmake_set(top, "EXTENSION_HOMEPAGE") == repo
    for url in (_cmake_set(top, "EXTENSION_ICONURL"), *_cmake_set(top, "EXTENSION_SCREENSHOTURLS").split()):
        assert url.startswith(repo.replace("https://github.com/", "https://raw.githubusercontent.com/") + "/")


def test_index_checks_refuse_a_description_without_licence(index_checks, tmp_path):
    """The check is real: the repository without its LICENSE fails it."""
    clone = _source_tree(tmp_path)
    (clone / "LICENSE").unlink()
    with pytest.raises(index_checks.ExtensionCheckError, match="No license file"):
        index_checks.check_license_file("REACTKD", {}, str(clone))
