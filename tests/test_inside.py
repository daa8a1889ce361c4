"""benchlib/inside/: the code that runs inside the sandbox imports the standard library and its own
siblings only (it runs in a bare Python, possibly a container with nothing else installed)."""

import ast
import subprocess
import sys

from benchlib.inside import FOLDER, RUNNER


# imported inside a function only for a value of that module, which the solution has therefore loaded
ONLY_FOR_ITS_VALUES = {"numpy"}


def imported_modules(path, top_level_only: bool = False) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in (tree.body if top_level_only else ast.walk(tree)):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                names.add("." * node.level + (node.module or ""))
            else:
                names.add(node.module.split(".")[0])
    return names


def test_the_sandboxed_folder_imports_only_the_standard_library_and_its_siblings():
    siblings = {p.stem for p in FOLDER.glob("*.py")}
    for path in FOLDER.glob("*.py"):
        outside = {name for name in imported_modules(path) - siblings
                   if name.startswith(".") or name not in sys.stdlib_module_names}
        assert outside <= ONLY_FOR_ITS_VALUES, f"{path.name} imports {sorted(outside)}"
        top = {name for name in imported_modules(path, top_level_only=True) - siblings
               if name.startswith(".") or name not in sys.stdlib_module_names}
        assert top == set(), f"{path.name} imports {sorted(top)} when it loads"


def test_the_runner_starts_in_a_bare_python_from_its_folder_alone(tmp_path):
    # -I: isolated mode (no site-packages, no user site, no PYTHON* variables), run from elsewhere
    done = subprocess.run([sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, {str(FOLDER)!r}); "
                                                       "import runner, wire, limits; print(wire.WIRE_VERSION)"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().isdigit()
    assert RUNNER.parent == FOLDER and RUNNER.is_file()


def test_the_check_finds_a_third_party_import(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import numpy\nfrom ..errors import BenchError\nimport json\n")
    names = imported_modules(bad)
    assert "numpy" in names and "..errors" in names and "json" in names
    assert "numpy" not in sys.stdlib_module_names and "json" in sys.stdlib_module_names
