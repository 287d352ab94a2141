"""The import rules of the house (issue 15), checked over the source tree with `ast`:

1. No module outside a party imports that party. The parties (booking_broker, trust_pas, gp_system,
   spine_mock) are reached over HTTP; what they share with the harness, the contracts and each
   other (fault rules, journal entries, the trust catalogue...) lives in party_common. `tests/` and
   `bench/` are exempt: they exist to build parties in-process (through the transport seam) and to
   test or measure their internals. Starting a party by its entry point's name (uvicorn's
   "booking_broker.app:create_app", `importlib.import_module(f"{package}.app")`) is hosting it, not
   importing it, and is not seen here; an import by a literal name (`import_module("trust_pas.x")`) is.
2. No import cycle among the project's modules, tests and benchmarks included. Every import counts,
   wherever it sits: one inside a function or under `if TYPE_CHECKING:` still ties the two modules
   together, and is how a cycle is usually hidden rather than removed.

An import `from a.b import c` is an edge to a.b.c when that is a module, else to a.b; a module's
package (`__init__`) is not counted as imported by its submodules, as Python has it loaded first.
"""

from __future__ import annotations

import ast
import functools
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PARTIES = ("booking_broker", "trust_pas", "gp_system", "spine_mock", "legacy_pas", "middleware")
EXEMPT = ("tests", "bench")


@dataclass(frozen=True)
class Import:
    importer: str
    imported: str
    path: Path
    line: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.importer} imports {self.imported}"


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def source_files(root: Path) -> list[Path]:
    """Every .py file of the top-level packages of `root` (folders with an __init__.py: not build/)."""
    out = []
    for top in sorted(root.iterdir()):
        if (top / "__init__.py").is_file():
            out += sorted(p for p in top.rglob("*.py") if not any(part.startswith(".") for part in p.parts))
    return out


def _named(node: ast.AST) -> list[str]:
    """What an import statement (or importlib.import_module("literal")) names, as absolute candidates
    before resolving relative ones; relative ones come back with their leading dots."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom):
        base = "." * node.level + (node.module or "")
        sep = "" if base.endswith(".") or not base else "."
        return [f"{base}{sep}{alias.name}\0{base}" for alias in node.names]
    if (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)):
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if name == "import_module":
            return [node.args[0].value]
    return []


def _import_nodes(tree: ast.Module, calls_too: bool):
    """The import statements, at any depth (in functions, classes, ifs, trys), and the calls when
    the source mentions import_module. Statements only are walked otherwise: a full walk of every
    expression is most of the time and finds no statement."""
    if calls_too:
        yield from ast.walk(tree)
        return
    todo: list[ast.AST] = [tree]
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
            continue
        for name in ("body", "orelse", "finalbody", "handlers", "cases"):
            todo.extend(getattr(node, name, ()))


def _absolute(name: str, importer: str, is_package: bool) -> str:
    dots = len(name) - len(name.lstrip("."))
    if not dots:
        return name
    base = importer.split(".") if is_package else importer.split(".")[:-1]
    base = base[: len(base) - (dots - 1)]
    rest = name[dots:]
    return ".".join(base + ([rest] if rest else []))


def _resolve(target: str, modules: set[str]) -> str | None:
    """The project module an import reaches: the name itself, or its longest known prefix."""
    parts = target.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in modules:
            return candidate
    return None


def project_imports(root: Path) -> list[Import]:
    files = source_files(root)
    modules = {module_name(root, p) for p in files}
    found: dict[Import, None] = {}   # ordered, each import once
    for path in files:
        importer = module_name(root, path)
        text = path.read_text()
        tree = ast.parse(text, str(path))
        for node in _import_nodes(tree, "import_module" in text):
            for name in _named(node):
                full, _, fallback = name.partition("\0")
                is_package = path.name == "__init__.py"
                target = _absolute(full, importer, is_package)
                # `from pkg import attr`: a submodule if there is one, else the module it is read from.
                if fallback and target not in modules:
                    target = _absolute(fallback, importer, is_package)
                reached = _resolve(target, modules)
                if reached is not None and reached != importer:
                    found[Import(importer, reached, path.relative_to(root), node.lineno)] = None
    return list(found)


def cross_party_imports(imports: list[Import]) -> list[Import]:
    out = []
    for imp in imports:
        owner, party = imp.importer.split(".")[0], imp.imported.split(".")[0]
        if party in PARTIES and owner != party and owner not in EXEMPT:
            out.append(imp)
    return out


def import_cycles(imports: list[Import]) -> list[frozenset[str]]:
    """Every set of modules that import one another in a ring: the strongly connected components of
    more than one module (Tarjan's algorithm, iterative so a deep chain cannot overflow the stack)."""
    graph: dict[str, list[str]] = {}
    for imp in imports:
        graph.setdefault(imp.importer, []).append(imp.imported)
        graph.setdefault(imp.imported, [])
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(graph[root]))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, edges = work[-1]
            step = next(edges, None)
            if step is not None:
                if step not in index:
                    index[step] = low[step] = len(index)
                    stack.append(step)
                    on_stack.add(step)
                    work.append((step, iter(graph[step])))
                elif step in on_stack:
                    low[node] = min(low[node], index[step])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(frozenset(component))
    return found


def _describe(cycle: frozenset[str], imports: list[Import]) -> str:
    return f"{', '.join(sorted(cycle))}:\n" + "\n".join(
        f"  {i}" for i in imports if i.importer in cycle and i.imported in cycle)


# -- the project -------------------------------------------------------------------------------


@functools.cache
def _ours() -> list[Import]:
    return project_imports(ROOT)


def test_no_module_outside_a_party_imports_that_party():
    found = cross_party_imports(_ours())
    assert not found, "imports of a party from outside it (talk to it over HTTP; share models in party_common):\n" + \
        "\n".join(str(i) for i in found)


def test_no_import_cycle():
    imports = _ours()
    cycles = import_cycles(imports)
    assert not cycles, "import cycles:\n" + "\n".join(_describe(c, imports) for c in cycles)


def test_the_walk_sees_the_whole_project():
    # A walker that found nothing would pass both tests above: it must see the parties' own imports.
    imports = _ours()
    importers = {i.importer.split(".")[0] for i in imports}
    assert {"harness", "contracts", "party_common", "tests", "bench", *PARTIES} <= importers
    assert any(i.importer == "booking_broker.routes" and i.imported == "booking_broker.routes.faults" for i in imports)
    assert any(i.importer == "harness.cli.main" and i.imported == "harness.run.runner" for i in imports)


# -- the walker, on small synthetic trees ------------------------------------------------------


def _tree(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


CLEAN = {
    "build/lib/harness/cli.py": "import booking_broker.app\n",   # not a package: not walked
    "party_common/__init__.py": "",
    "party_common/rules.py": "RULES = []\n",
    "booking_broker/__init__.py": "",
    "booking_broker/engine.py": "from party_common.rules import RULES\n",
    "booking_broker/app.py": "from . import engine\nfrom .engine import RULES\n",
    "harness/__init__.py": "",
    "harness/runner.py": "from party_common import rules\n",
    "harness/cli.py": "from .runner import rules\n",
    "tests/__init__.py": "",
    "tests/test_engine.py": "from booking_broker.engine import RULES\n",
}


def test_a_clean_tree_passes(tmp_path):
    imports = project_imports(_tree(tmp_path, CLEAN))
    assert cross_party_imports(imports) == []
    assert import_cycles(imports) == []
    edges = {(i.importer, i.imported) for i in imports}
    assert {("booking_broker.app", "booking_broker.engine"), ("harness.runner", "party_common.rules"),
            ("harness.cli", "harness.runner"), ("tests.test_engine", "booking_broker.engine")} <= edges


def test_a_harness_module_importing_a_party_fails(tmp_path):
    tree = _tree(tmp_path, {**CLEAN, "harness/replay.py": "def resend():\n    from booking_broker.engine import RULES\n"})
    found = cross_party_imports(project_imports(tree))
    assert [(i.importer, i.imported, i.line) for i in found] == [("harness.replay", "booking_broker.engine", 2)]


def test_one_party_importing_another_fails_and_a_literal_import_module_counts(tmp_path):
    tree = _tree(tmp_path, {**CLEAN, "trust_pas/__init__.py": "",
                            "trust_pas/app.py": "import importlib\nimportlib.import_module('booking_broker.app')\n",
                            "gp_system/__init__.py": "",
                            "gp_system/flow.py": "import booking_broker\n"})
    found = {(i.importer, i.imported) for i in cross_party_imports(project_imports(tree))}
    assert found == {("trust_pas.app", "booking_broker.app"), ("gp_system.flow", "booking_broker")}


def test_a_cycle_through_a_lazy_or_type_checking_import_fails(tmp_path):
    lazy = {**CLEAN, "harness/runner.py": "def f():\n    from .cli import main\n"}
    imports = project_imports(_tree(tmp_path / "lazy", lazy))
    assert import_cycles(imports) == [{"harness.cli", "harness.runner"}]
    typed = {**CLEAN, "harness/runner.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                                            "    from harness.cli import X\n"}
    imports = project_imports(_tree(tmp_path / "typed", typed))
    cycles = import_cycles(imports)
    assert cycles == [{"harness.cli", "harness.runner"}]
    assert "harness/runner.py:3: harness.runner imports harness.cli" in _describe(cycles[0], imports)


def test_every_ring_is_found_and_a_chain_is_none(tmp_path):
    ring = {f"pkg/m{i}.py": f"from . import m{(i + 1) % 3}\n" for i in range(3)}
    chain = {f"pkg/c{i}.py": f"from . import c{i + 1}\n" for i in range(400)} | {"pkg/c400.py": ""}
    pair = {"other/a.py": "import other.b\n", "other/b.py": "import other.a\n"}
    imports = project_imports(_tree(tmp_path, {"pkg/__init__.py": "", "other/__init__.py": "",
                                               **ring, **chain, **pair}))
    assert sorted(map(sorted, import_cycles(imports))) == [["other.a", "other.b"], ["pkg.m0", "pkg.m1", "pkg.m2"]]


def test_relative_imports_resolve_from_packages_and_modules(tmp_path):
    tree = _tree(tmp_path, {**CLEAN, "harness/reconcile/__init__.py": "from .rules import X\nfrom .. import runner\n",
                            "harness/reconcile/rules.py": "from ..runner import rules\nfrom . import kinds\n",
                            "harness/reconcile/kinds.py": ""})
    edges = {(i.importer, i.imported) for i in project_imports(tree)}
    assert {("harness.reconcile", "harness.reconcile.rules"), ("harness.reconcile", "harness.runner"),
            ("harness.reconcile.rules", "harness.runner"),
            ("harness.reconcile.rules", "harness.reconcile.kinds")} <= edges
