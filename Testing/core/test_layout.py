"""Repository rules: the core stays Slicer-free, Slicer's build lists every file, set-up is two commands."""

import ast
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CORE = ROOT / "REACTKD" / "reactkd"


def test_core_never_imports_slicer_qt_ctk():
    offenders = []
    for path in CORE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{path.relative_to(ROOT)}: {n}" for n in names if n.split(".")[0] in {"slicer", "qt", "ctk"}]
    assert not offenders, offenders


def test_cmake_lists_every_core_file():
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "sync_cmake.py"), "--check"], capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stderr
    text = (ROOT / "REACTKD" / "CMakeLists.txt").read_text()
    assert "reactkd/preprocess/pipeline.py" in text and "slicerMacroBuildScriptedModule" in text
    top = (ROOT / "CMakeLists.txt").read_text()
    assert "add_subdirectory(REACTKD)" in top and "add_subdirectory(REACTKDTrainer)" in top


def test_readme_opens_with_two_setup_commands_and_ci_uses_the_test_one():
    readme = (ROOT / "README.md").read_text()
    first_block = re.search(r"```bash\n(.*?)```", readme, re.S).group(1)
    commands = [line.split("#")[0].strip() for line in first_block.splitlines() if line.strip()]
    assert commands == ["bash scripts/demo.sh", "bash scripts/test.sh"]
    ci = (ROOT / ".ci" / "run").read_text()
    assert "bash scripts/test\\.sh" in ci and "README.md" in ci
    assert "-eq 5" in (ROOT / "scripts" / "test.sh").read_text()  # pytest's "no tests" is a failure


def test_torch_requirement_admits_the_local_cpu_build():
    import tomllib
    from packaging.requirements import Requirement

    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    torch_req = next(Requirement(d) for d in deps if d.startswith("torch"))
    assert torch_req.specifier.contains("2.13.0")
    assert "torch==2.13.0" in (ROOT / "scripts" / "_env.sh").read_text()
