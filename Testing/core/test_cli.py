"""The command line: every command reachable by its name, its own options in its help, its required
arguments and a bad main input each refused with one line (exit code 2), and the contracts later checks
rely on (``reactkd graph --json``)."""

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import SimpleITK as sitk

from reactkd import __version__
from reactkd.cli import build_parser, commands, main

README = Path(__file__).resolve().parents[2] / "README.md"


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


@pytest.fixture(scope="module")
def full() -> dict[str, argparse.ArgumentParser]:
    """Every command's full parser (imports every command module)."""
    return _subparsers(build_parser())


def _required(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    return [a for a in parser._actions if a.required]


def _shown(action: argparse.Action) -> str:
    """How argparse names an argument in its errors: ``--ct``, or a positional's metavar."""
    return "/".join(action.option_strings) if action.option_strings else (action.metavar or action.dest)


def _value(action: argparse.Action) -> list[str]:
    """A value of the right type and count for ``action`` (parsing stops at the missing argument)."""
    one = str(action.choices[0]) if action.choices else "1" if action.type in (int, float) else "x"
    count = action.nargs if isinstance(action.nargs, int) else 1
    return [one] * count


def _readme_commands() -> list[str]:
    section = README.read_text(encoding="utf-8").split("## Commands", 1)[1].split("```", 2)[1]
    return sorted({m.group(1) for m in re.finditer(r"^reactkd ([a-z][\w-]*)", section, re.M)})


def test_every_command_module_is_a_parser_of_the_same_name(full):
    """A module with ``register`` must add the parser its file name promises, or ``main`` cannot reach it."""
    listed = commands()
    assert set(full) == set(listed)
    for name, parser in full.items():
        assert parser.prog == f"reactkd {name}"
        assert callable(parser.get_default("func")), f"`reactkd {name}` sets no func"


def test_every_documented_command_exists():
    documented = _readme_commands()
    assert {"graph", "train", "predict", "demo", "segment"} <= set(documented)  # the section was read
    assert sorted(set(documented) - set(commands())) == []


def test_top_level_help_lists_every_command_without_importing_them():
    """``reactkd --help`` reads the command list from the sources; only the chosen command is imported."""
    code = ("import sys; from reactkd.cli import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit as e:\n    print('exit', e.code)\n"
            "print('torch' in sys.modules, sorted(m for m in sys.modules if m.startswith('reactkd.cli.')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    *help_lines, exit_line, imported = done.stdout.strip().splitlines()
    assert exit_line == "exit 0" and imported == "False []", done.stdout + done.stderr
    entries = {m.group(1) for m in re.finditer(r"^ {4}([a-z][\w-]*)", "\n".join(help_lines), re.M)}
    assert entries == set(commands())


@pytest.mark.parametrize("name", sorted(commands()))
def test_command_help_lists_its_own_options(name, full, capsys):
    with pytest.raises(SystemExit) as done:
        main([name, "--help"])
    out = capsys.readouterr().out
    assert done.value.code == 0
    assert out.startswith(f"usage: reactkd {name} ")
    own = [s for a in full[name]._actions for s in a.option_strings] + [
        a.metavar or a.dest for a in full[name]._actions if not a.option_strings]
    assert "--help" in own and len(own) > 1
    for option in own:
        assert re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", out), f"`reactkd {name} --help` omits {option}"


@pytest.mark.parametrize("name", sorted(commands()))
def test_each_missing_required_argument_is_named_in_one_line(name, full, capsys):
    required = _required(full[name])
    if not required:
        pytest.skip(f"`reactkd {name}` has no required argument")
    for missing in required:
        # a positional must come first for argparse to tell it from an option's value
        given = [*[v for a in required if a is not missing and not a.option_strings for v in _value(a)],
                 *[v for a in required if a is not missing and a.option_strings
                   for v in (a.option_strings[0], *_value(a))]]
        with pytest.raises(SystemExit) as done:
            main([name, *given])
        err = capsys.readouterr().err.strip().splitlines()
        assert done.value.code == 2
        assert err[-1] == f"reactkd {name}: error: the following arguments are required: {_shown(missing)}", err


def test_version(capsys):
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0 and capsys.readouterr().out.strip() == f"reactkd {__version__}"


def test_no_command_prints_the_usage_and_exits_2(capsys):
    assert main([]) == 2 and capsys.readouterr().out.startswith("usage: reactkd ")


def test_an_unknown_command_is_refused_naming_it(capsys):
    with pytest.raises(SystemExit) as done:
        main(["trian", "--config", "demo-cpu"])
    assert done.value.code == 2
    assert "invalid choice: 'trian'" in capsys.readouterr().err.strip().splitlines()[-1]


def _bad_main_input(name: str, tmp: Path) -> tuple[list[str], str]:
    """Argv whose main input does not exist, and the one-line error it must give."""
    gone = tmp / "missing"
    config = ["--config", str(gone / "c.yaml"), "--out", str(tmp / "out")]
    table = {
        "ablate": (config, f"config not found: {gone / 'c.yaml'}"),
        "compare": (config, f"config not found: {gone / 'c.yaml'}"),
        "demo": (config, f"config not found: {gone / 'c.yaml'}"),
        "train": (config, f"config not found: {gone / 'c.yaml'}"),
        "seg-distill": (config, f"config not found: {gone / 'c.yaml'}"),
        **{name: (["--run", str(gone)], str(gone)) for name in ("calibrate", "evaluate", "robustness", "dose")},
        "graph": (["--ct", str(gone / "ct.nii.gz"), "--liver", str(gone / "l.nii.gz")],
                  f"CT: file not found: {gone / 'ct.nii.gz'}"),
        "simulate-dose": (["--ct", str(gone / "ct.nii.gz"), "--level", "mild", "--out", str(tmp / "low.nii.gz")],
                          f"CT: file not found: {gone / 'ct.nii.gz'}"),
        "predict": (["--model", str(gone / "m.pt"), "--ct", str(gone / "ct.nii.gz"), "--liver", str(gone / "l.nii.gz"),
                     "--out", str(tmp / "out")], f"model not found: {gone / 'm.pt'}"),
        "segment": (["--model", str(gone / "m.pt"), "--ct", str(gone / "ct.nii.gz"), "--out", str(tmp / "out")],
                    f"model not found: {gone / 'm.pt'}"),
        "cohort": (["--out", str(tmp / "out"), "--patients", "0"], "patients` must be >= 1, got 0"),
        "manifest": ([str(gone), "--out", str(tmp / "out.csv")], str(gone)),
        "results": ([str(gone), "--out", str(tmp / "results.md")], f"{gone}: no such folder."),
    }
    if name not in table:
        pytest.fail(f"`reactkd {name}` has no bad-input case here: add one to _bad_main_input")
    argv, message = table[name]
    return [name, *argv], message


@pytest.mark.parametrize("name", sorted(set(commands()) - {"serve"}))  # serve answers on stdout: below
def test_a_missing_main_input_is_one_line_before_any_work(name, tmp_path, capsys):
    argv, message = _bad_main_input(name, tmp_path)
    assert main(argv) == 2
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"reactkd {name}: error: ") and message in err[0], captured
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # nothing written



def test_serve_answers_a_missing_model_in_its_protocol(tmp_path):
    """``reactkd serve`` says it is not ready, and answers each request with exit code 2 and the same line."""
    gone = tmp_path / "missing" / "m.pt"
    request = {"id": "7", "args": ["--ct", str(tmp_path / "ct.nii.gz"), "--liver", str(tmp_path / "l.nii.gz"),
                                   "--out", str(tmp_path / "out")]}
    done = subprocess.run([sys.executable, "-m", "reactkd", "serve", "--model", str(gone), "--device", "cpu"],
                          input=json.dumps(request) + "\n", capture_output=True, text=True, timeout=120)
    ready, reply = (json.loads(line) for line in done.stdout.strip().splitlines())
    assert done.returncode == 0, done.stderr
    assert ready["ready"] is False and f"model not found: {gone}" in ready["error"]
    assert reply == {"id": "7", "ok": False, "code": 2, "error": ready["error"]}
    assert list(tmp_path.iterdir()) == []

def test_graph_json_contract(tmp_path, toy_case_images, capsys):
    t = toy_case_images
    for k in ("ct", "liver", "tumor"):
        sitk.WriteImage(t[k], str(tmp_path / f"{k}.nii.gz"))
    rc = main(["graph", "--ct", str(tmp_path / "ct.nii.gz"), "--liver", str(tmp_path / "liver.nii.gz"),
               "--tumor", str(tmp_path / "tumor.nii.gz"), "--json"])
    assert rc == 0
    out = json.loads(capsys.readouterr().out)
    assert [n["kind"] for n in out["nodes"]] == ["liver", "tumor", "tumor"]
    for n in out["nodes"]:
        assert isinstance(n["voxels"], int) and n["volume_ml"] > 0 and len(n["centroid_lps_mm"]) == 3
    assert out["nodes"][0]["volume_ml"] == round(out["nodes"][0]["voxels"] * 1.5 * 1.5 * 2.0 / 1000, 4)
    assert main(["graph", "--ct", str(tmp_path / "ct.nii.gz"), "--liver", str(tmp_path / "liver.nii.gz")]) == 0
    assert "1 liver, 0 tumour(s)" in capsys.readouterr().out


def test_graph_errors_are_one_line(tmp_path, toy_case_images, capsys):
    sitk.WriteImage(toy_case_images["ct"], str(tmp_path / "ct.nii.gz"))
    rc = main(["graph", "--ct", str(tmp_path / "ct.nii.gz"), "--liver", str(tmp_path / "none.nii.gz")])
    err = capsys.readouterr().err
    assert rc == 2 and "reactkd graph: error: " in err and "liver mask: file not found" in err
    assert "Traceback" not in err
