"""The Python layer order, checked on the source: every import of every non-test module under
harness/ and analysis/ is read with ast, mapped to its layer, and judged.

From the top (may import everything below it) to the bottom (imports nothing of ours):

1. harness/cli.py, harness/__main__.py: the composition root, the only importer of profile and abuse
   (harness/cli_parser.py: its command line; harness/cli_help.py: its --help examples);
2. harness/profile/, harness/abuse/: feature packages, neither imports the other;
3. harness/driver/: one run, matrices, twin, pytest plugin, process control;
4. analysis/: numbers and rendering;
5. harness/results/: the result files, their schema, atomic writing, the matrix index;
   beside it harness/testservers/ (test support), neither importing the other.

A violation is an import of a higher layer (or of the other feature package), an import cycle
between modules, or an import of a project module inside a function or class: such an import
hides a dependency from a reader of the module's head, which is where the layers are visible.
"""

from __future__ import annotations

import ast
import os
import textwrap

import pytest

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROJECT_PACKAGES = ("harness", "analysis")

# (path prefix relative to the repository, rank, group): the first match wins; rank 1 is the top.
LAYERS = (
    ("harness/cli.py", 1, "root"),
    ("harness/cli_parser.py", 1, "root"),
    ("harness/cli_help.py", 1, "root"),
    ("harness/__main__.py", 1, "root"),
    ("harness/loadgen/fuzz/", 1, "fuzz seeds"),  # seed generators for server/fuzz/gen_corpus.py: nothing imports them
    ("harness/profile/", 2, "profile"),
    ("harness/abuse/", 2, "abuse"),
    ("harness/driver/", 3, "driver"),
    ("analysis/", 4, "analysis"),
    ("harness/results/", 5, "results"),
    ("harness/testservers/", 5, "testservers"),  # servers the tests measure: import nothing of ours
    ("harness/__init__.py", 5, "results"),  # the namespace package: a docstring, nothing to import
)


def layer_of(relpath: str) -> tuple[int, str] | None:
    return next(((rank, group) for prefix, rank, group in LAYERS if relpath.startswith(prefix)), None)


def is_test_file(relpath: str) -> bool:
    name = os.path.basename(relpath)
    return name.startswith("test_") or name == "conftest.py"


def module_files(root: str) -> dict[str, str]:
    """Dotted module name -> path relative to root, for every non-test .py of the project packages."""
    out = {}
    for package in PROJECT_PACKAGES:
        for directory, dirs, files in os.walk(os.path.join(root, package)):
            dirs[:] = sorted(d for d in dirs if not d.startswith((".", "__pycache__")))
            for name in sorted(files):
                if not name.endswith(".py"):
                    continue
                rel = os.path.relpath(os.path.join(directory, name), root).replace(os.sep, "/")
                if is_test_file(rel):
                    continue
                dotted = rel[:-3].replace("/", ".")
                out[dotted.removesuffix(".__init__")] = rel
    return out


def _parents(tree: ast.AST) -> dict[ast.AST, ast.AST]:
    return {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}


def _enclosing_scope(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> ast.AST | None:
    while node in parents:
        node = parents[node]
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            return node
    return None


def _targets(node: ast.Import | ast.ImportFrom, module: str, is_package: bool, modules: dict[str, str]) -> list[str]:
    """The project modules an import statement loads (a `from pkg import name` of a submodule is that submodule)."""
    if isinstance(node, ast.Import):
        names = [a.name for a in node.names]
    else:
        base = node.module or ""
        if node.level:
            parts = module.split(".") if is_package else module.split(".")[:-1]
            parts = parts[:len(parts) - (node.level - 1)]
            base = ".".join(parts + ([base] if base else []))
        names = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
    found = []
    for name in names:
        if name.split(".")[0] not in PROJECT_PACKAGES:
            continue
        while name and name not in modules:  # `import harness.driver.x.y` where y is an attribute
            name = name.rpartition(".")[0]
        if name and name not in found:
            found.append(name)
    return found


def imports(root: str) -> list[tuple[str, str, int, bool]]:
    """(importer, imported, line, inside a function or class) for every project import."""
    modules = module_files(root)
    out = []
    for module, rel in modules.items():
        with open(os.path.join(root, rel), encoding="utf-8") as f:
            tree = ast.parse(f.read(), filename=rel)
        parents = _parents(tree)
        nodes = sorted((n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))), key=lambda n: n.lineno)
        for node in nodes:
            local = _enclosing_scope(node, parents) is not None
            for target in _targets(node, module, rel.endswith("__init__.py"), modules):
                if target != module:
                    out.append((module, target, node.lineno, local))
    return out


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def problems(root: str = REPO_ROOT) -> list[str]:
    """Every violation of the layer order under root, as 'file:line: what' lines."""
    modules = module_files(root)
    found = []
    edges: dict[str, set[str]] = {}
    where: dict[tuple[str, str], int] = {}
    for importer, imported, line, local in imports(root):
        rel = modules[importer]
        edges.setdefault(importer, set()).add(imported)
        where.setdefault((importer, imported), line)
        if local:
            found.append(f"{rel}:{line}: imports {imported} inside a function or class (make it a top-level import)")
        mine, theirs = layer_of(rel), layer_of(modules[imported])
        if mine is None or theirs is None:
            unmapped = rel if mine is None else modules[imported]
            found.append(f"{rel}:{line}: {unmapped} is in no layer (add it to LAYERS in harness/test_layers.py)")
        elif theirs[0] < mine[0] or (theirs[0] == mine[0] and theirs[1] != mine[1]):
            found.append(f"{rel}:{line}: imports {imported} ({theirs[1]}, layer {theirs[0]}) from {mine[1]} "
                         f"(layer {mine[0]}): a layer may only import the layers below it")
    for component in _cycles(edges):
        members = set(component)
        links = [f"{modules[a]}:{where[(a, b)]} -> {b}" for a in component for b in sorted(edges.get(a, ()))
                 if b in members]
        found.append(f"import cycle between {', '.join(component)}: " + "; ".join(links))
    return found


def test_no_import_runs_up_the_layers_or_in_a_circle():
    found = problems()
    assert not found, "layer order violated:\n" + "\n".join(found)


def test_every_module_has_a_layer():
    unmapped = [rel for rel in module_files(REPO_ROOT).values() if layer_of(rel) is None]
    assert not unmapped, f"modules in no layer (add them to LAYERS): {unmapped}"


def _tree(tmp_path, files: dict[str, str]) -> str:
    for rel, text in files.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    for package in ("harness", "harness/driver", "harness/results", "harness/profile", "harness/abuse", "analysis"):
        init = tmp_path / package / "__init__.py"
        init.parent.mkdir(parents=True, exist_ok=True)
        if not init.exists():
            init.write_text("")
    return str(tmp_path)


@pytest.mark.parametrize("files, expected", [
    ({"analysis/report.py": "from harness.driver import matrix\n", "harness/driver/matrix.py": ""},
     "analysis/report.py:1: imports harness.driver.matrix (driver, layer 3) from analysis (layer 4)"),
    ({"harness/results/files.py": "import analysis.stats\n", "analysis/stats.py": ""},
     "harness/results/files.py:1: imports analysis.stats (analysis, layer 4) from results (layer 5)"),
    ({"harness/profile/run.py": "from harness.abuse import attacks\n", "harness/abuse/attacks.py": ""},
     "harness/profile/run.py:1: imports harness.abuse.attacks (abuse, layer 2) from profile (layer 2)"),
    ({"harness/driver/x.py": "def f():\n    from harness.driver import y\n", "harness/driver/y.py": ""},
     "harness/driver/x.py:2: imports harness.driver.y inside a function or class"),
    ({"harness/driver/a.py": "from harness.driver import b\n", "harness/driver/b.py": "from . import a\n"},
     "import cycle between harness.driver.a, harness.driver.b: harness/driver/a.py:1 -> harness.driver.b; "
     "harness/driver/b.py:1 -> harness.driver.a"),
])
def test_each_kind_of_violation_is_caught_and_named(tmp_path, files, expected):
    found = problems(_tree(tmp_path, files))
    assert any(p.startswith(expected) for p in found), found


def test_downward_top_level_and_third_party_imports_pass(tmp_path):
    root = _tree(tmp_path, {
        "harness/cli.py": "import json\nfrom harness.profile import run\nfrom harness.abuse import attacks\n",
        "harness/profile/run.py": "from harness.driver.runner import run_scenario\nfrom analysis import stats\n",
        "harness/abuse/attacks.py": "def f():\n    import hpack\n",
        "harness/driver/runner.py": "from harness.results import files\n",
        "analysis/stats.py": "from harness.results.files import load\n",
        "harness/results/files.py": "import os\n",
    })
    assert problems(root) == []
