"""The package's dependency direction, read statically from its source.

Every ``import`` / ``from ... import`` in ``service/schemahub/**.py`` (function-level imports
included, relative imports resolved) becomes an edge between the top-level parts of the package
(a subpackage such as ``lake`` or a single module such as ``config``). The edges must follow the
data flow written in :data:`ALLOWED`, and form no cycle. Imports under ``if TYPE_CHECKING:``
are left out: they never run (the venue registry names its venues' decoders that way, and loads
them by dotted path on first use).
"""

from __future__ import annotations

import ast
from collections import defaultdict
from itertools import pairwise
from pathlib import Path

import schemahub

PACKAGE_DIR = Path(schemahub.__file__).parent

# Single modules at the bottom that anything may use: errors, redaction, the native loader,
# small Arrow helpers and the tables' shapes (the contract between batching, lake and readers).
FOUNDATION = {
    "__init__": set(),
    "errors": set(),
    "redact": set(),
    "native": set(),
    "arrowutil": set(),
    "schemas": set(),
    "logs": {"redact"},  # log records are masked before they are written
    # Configuration errors name the bad key (secrets masked); venues are checked by name.
    "config": {"errors", "redact", "registry"},
    "s3": {"errors"},
    "capture": {"errors"},  # recordings are read by venues, jobs and the bench
    "registry": {"errors"},  # the venue list; loads each venue's parts by dotted path
}
_BASE = {"__init__", "errors", "redact", "native", "arrowutil", "schemas", "logs", "config"}
_BASE = _BASE | {"registry"}  # what every folder may import

# Which parts each part may import. Data flows venues/decode -> sequencing -> batching ->
# mapping -> lake -> daemon/jobs -> cli; a part imports only what lies upstream of it.
ALLOWED: dict[str, set[str]] = {
    **FOUNDATION,
    # Decoding is pure: bytes in, records/columns out.
    "decode": _BASE,
    # Connections hand frames to the decoders and record them.
    "venues": _BASE | {"decode", "capture"},
    # The sequencer orders decoded trades per stream.
    "sequencing": _BASE | {"decode"},
    # Buffers hold decoded, sequenced columns; they know the raw tables' shape, not the lake.
    "batching": _BASE | {"decode", "sequencing"},
    # Mappings turn raw columns into unified ones; no I/O.
    "mapping": _BASE | {"decode"},
    # The lake writes what the layers above it produced (never imports batching).
    "lake": _BASE | {"decode", "mapping", "sequencing", "s3"},
    # Operations endpoints and the metrics registry: infrastructure, no domain imports.
    "ops": _BASE,
    # The simulator serves venue frames and keeps the ground truth in the unified shape.
    "sim": _BASE | {"decode"},
    # The live discrepancy feed reads decoded trades and exports its own metrics.
    "discrepancy": _BASE | {"decode", "ops"},
    # Replay reads the lake back.
    "replay": _BASE | {"lake", "s3"},
    # The daemon composes every online part; it never imports batch jobs.
    "daemon": _BASE
    | {"decode", "venues", "sequencing", "batching", "mapping", "lake", "s3"}
    | {"ops", "discrepancy", "replay", "capture"},
    # Batch jobs reuse the daemon's committer and ingest for REST gap fills.
    "jobs": _BASE
    | {"decode", "venues", "sequencing", "batching", "mapping", "lake", "s3", "capture"}
    | {"daemon"},
    # The benchmark replays captures through the daemon's own path.
    "benchmark": _BASE
    | {"decode", "venues", "sequencing", "batching", "mapping", "lake", "s3", "capture"}
    | {"daemon", "sim", "jobs"},
    # The command line sits on top of everything.
    "cli": {"*"},
}


def _part(module: str) -> str | None:
    """The top-level part of ``schemahub.x.y`` (``x``), or None outside the package."""
    names = module.split(".")
    if names[0] != "schemahub":
        return None
    if len(names) == 1 or names[1] not in _PARTS:
        return "__init__"  # ``from schemahub import __version__``
    return names[1]


def _parts_of_package() -> set[str]:
    found = {p.stem for p in PACKAGE_DIR.glob("*.py")}
    found |= {p.parent.name for p in PACKAGE_DIR.glob("*/__init__.py")}
    return found


_PARTS = _parts_of_package()


def _module_name(path: Path) -> list[str]:
    relative = path.relative_to(PACKAGE_DIR.parent).with_suffix("")
    return list(relative.parts)


def _imported(path: Path) -> list[str]:
    """Every module name an import statement in ``path`` refers to (relative ones resolved)."""
    name = _module_name(path)
    package = name[:-1]  # the package a relative import starts from (also for __init__)
    found: list[str] = []
    for node in _runtime_nodes(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            found.append(module)
            found.extend(f"{module}.{alias.name}" for alias in node.names)
    return found


def _runtime_nodes(tree: ast.AST):
    """Every node of ``tree`` except those under ``if TYPE_CHECKING:``."""
    pending = [tree]
    while pending:
        node = pending.pop()
        yield node
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            pending.extend(node.orelse)
            continue
        pending.extend(ast.iter_child_nodes(node))


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def import_edges() -> dict[tuple[str, str], set[str]]:
    """(importer part, imported part) -> the files holding such an import."""
    edges: dict[tuple[str, str], set[str]] = defaultdict(set)
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        source = _part(".".join(_module_name(path)))
        for module in _imported(path):
            target = _part(module)
            if target is not None and target != source:
                edges[(source, target)].add(str(path.relative_to(PACKAGE_DIR.parent)))
    return edges


def _describe(edges: dict[tuple[str, str], set[str]], pairs) -> str:
    return "\n".join(f"  {a} -> {b}  ({', '.join(sorted(edges[(a, b)]))})" for a, b in pairs)


def _cycle(edges) -> list[str] | None:
    """One cycle of the graph as a list of parts, or None."""
    graph: dict[str, set[str]] = defaultdict(set)
    for a, b in edges:
        graph[a].add(b)
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_the_graph_is_read():
    """The reader sees the imports it must see (a broken reader would pass every rule)."""
    edges = import_edges()
    assert ("daemon", "lake") in edges
    assert ("cli", "daemon") in edges
    assert ("venues", "decode") in edges


def test_every_part_has_a_rule():
    missing = _PARTS - set(ALLOWED)
    assert not missing, f"parts without a rule in ALLOWED: {sorted(missing)}"


def test_imports_follow_the_data_flow():
    edges = import_edges()
    bad = [
        (a, b)
        for a, b in sorted(edges)
        if "*" not in ALLOWED.get(a, set()) and b not in ALLOWED.get(a, set())
    ]
    assert not bad, "imports against the allowed direction:\n" + _describe(edges, bad)


def test_no_cycle_between_parts():
    edges = import_edges()
    cycle = _cycle(edges)
    assert cycle is None, "import cycle:\n" + _describe(edges, pairwise(cycle))


def test_daemon_does_not_import_batch_jobs():
    edges = import_edges()
    assert ("daemon", "jobs") not in edges, _describe(edges, [("daemon", "jobs")])


def test_batching_and_lake_do_not_import_each_other():
    edges = import_edges()
    bad = [pair for pair in (("batching", "lake"), ("lake", "batching")) if pair in edges]
    assert not bad, _describe(edges, bad)
