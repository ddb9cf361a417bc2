"""lake.pyiceberg_private: the pyiceberg internals it was written against are still there, with
the same parameters, and no other module of ``service/`` touches a pyiceberg private name.

A failure here after a pyiceberg upgrade means: revisit ``schemahub/lake/pyiceberg_private.py``
(what each use is for is in its docstring) before trusting appends, commits, expiry or
compaction on the new version.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
from importlib.metadata import version
from pathlib import Path

import pytest
from pyiceberg.manifest import DataFile
from pyiceberg.table import Transaction

import schemahub
from schemahub.lake import UNIFIED_TABLE
from schemahub.lake import pyiceberg_private as private

MODULE = Path(private.__file__)
SERVICE_MODULES = sorted(p for p in Path(schemahub.__file__).parent.rglob("*.py") if p != MODULE)
REVISIT = (
    f"pyiceberg {version('pyiceberg')} is installed; schemahub/lake/pyiceberg_private.py was "
    f"written against {private.WRITTEN_AGAINST}: revisit that module"
)


def resolve(dotted: str) -> object:
    """The object at ``dotted`` (a module path, then attributes), or a failure naming it."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            found: object = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for name in parts[cut:]:
            if not hasattr(found, name):
                pytest.fail(f"{dotted}: pyiceberg has no {name} there any more. {REVISIT}")
            found = getattr(found, name)
        return found
    pytest.fail(f"{dotted}: no such pyiceberg module any more. {REVISIT}")


def bare_signature(obj: object) -> str:
    """The signature of ``obj`` as parameter names, kinds and defaults, without annotations
    (pyiceberg rewords those without changing what a call means)."""
    signature = inspect.signature(obj)  # type: ignore[arg-type]
    empty = inspect.Parameter.empty
    parameters = [p.replace(annotation=empty) for p in signature.parameters.values()]
    return str(signature.replace(parameters=parameters, return_annotation=empty))


@pytest.mark.parametrize(("dotted", "expected"), private.PRIVATE_SIGNATURES)
def test_each_private_callable_keeps_the_signature_it_was_written_against(dotted, expected):
    found = bare_signature(resolve(dotted))
    assert found == expected, (
        f"{dotted}: expected the signature {expected}, found {found}. {REVISIT}"
    )


def test_the_private_attributes_read_are_on_fresh_objects(lake):
    table = lake.table(UNIFIED_TABLE)
    txn = Transaction(table)
    instances = {"pyiceberg.table.Transaction": txn}
    instances["pyiceberg.table.update.snapshot._FastAppendFiles"] = private.append_producer(txn, {})
    for dotted, names in private.PRIVATE_ATTRIBUTES:
        cls = resolve(dotted)
        assert dotted in instances, f"{dotted}: add an instance of it to this test"
        obj = instances[dotted]
        assert isinstance(obj, cls), f"{dotted}: the object built for it is a {type(obj)}"
        for name in names:
            assert hasattr(obj, name), f"{dotted}: a new instance has no {name}. {REVISIT}"
    assert txn._table is table
    assert txn._updates == ()
    # LeanTransaction replaces this property
    assert isinstance(inspect.getattr_static(Transaction, "table_metadata"), property), REVISIT


@pytest.mark.parametrize(("dotted", "calls"), private.MIRRORED_CALLS)
def test_the_pyiceberg_code_mirrored_still_makes_the_same_calls(dotted, calls):
    source = inspect.getsource(resolve(dotted))  # type: ignore[arg-type]
    for call in calls:
        assert call in source, f"{dotted} no longer calls {call}. {REVISIT}"


def test_mark_sorted_sets_the_sort_order_id_field():
    data_file = DataFile.from_args(file_path="x.parquet", sort_order_id=None)
    assert private.mark_sorted(data_file, 7).sort_order_id == 7, REVISIT


def private_names_used(tree: ast.Module) -> set[str]:
    """Private names ``tree`` imports from pyiceberg, reads as attributes, or defines as
    methods (which may override pyiceberg's)."""
    used = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("pyiceberg"):
            used |= {alias.name for alias in node.names if is_private(alias.name)}
        elif isinstance(node, ast.Attribute) and is_private(node.attr):
            used.add(node.attr)
        elif isinstance(node, ast.ClassDef):
            used |= {f.name for f in node.body if isinstance(f, ast.FunctionDef)}
    return {name for name in used if is_private(name)}


def is_private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def is_private_attribute(node: ast.AST) -> bool:
    return isinstance(node, ast.Attribute) and is_private(node.attr)


def own_names(tree: ast.Module) -> set[str]:
    """Names the module itself defines at top level or as class attributes."""
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {t.id for t in targets if isinstance(t, ast.Name)}
        if isinstance(node, ast.ClassDef):
            names |= {
                s.target.id
                for s in node.body
                if isinstance(s, ast.AnnAssign) and isinstance(s.target, ast.Name)
            }
    return names


def listed_names() -> set[str]:
    """The last part of every private name the module lists as data."""
    names = {dotted.rsplit(".", 1)[1] for dotted, _ in private.PRIVATE_SIGNATURES}
    names |= {dotted.rsplit(".", 1)[1] for dotted, _ in private.PRIVATE_ATTRIBUTES}
    for _, attributes in private.PRIVATE_ATTRIBUTES:
        names |= set(attributes)
    return {name for name in names if is_private(name)}


def test_every_private_name_the_module_uses_is_listed_for_these_checks():
    tree = ast.parse(MODULE.read_text())
    unlisted = private_names_used(tree) - own_names(tree) - listed_names()
    assert not unlisted, (
        f"pyiceberg_private.py uses {sorted(unlisted)} without listing them in "
        "PRIVATE_SIGNATURES or PRIVATE_ATTRIBUTES, so no test would catch their change"
    )


def pyiceberg_private_imports(tree: ast.Module) -> list[str]:
    """``from pyiceberg... import _x``, ``import pyiceberg._x...`` and ``pyiceberg.x._y``."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("pyiceberg"):
            parts = node.module.split(".") + [a.name for a in node.names]
            found += [f"from {node.module} import {p}" for p in parts if is_private(p)]
        elif isinstance(node, ast.Import):
            found += [
                f"import {a.name}"
                for a in node.names
                if a.name.startswith("pyiceberg") and any(map(is_private, a.name.split(".")))
            ]
        elif is_private_attribute(node) and ast.unparse(node.value).startswith("pyiceberg"):
            found.append(ast.unparse(node))
    return found


def known_private_uses(tree: ast.Module, known: set[str]) -> list[str]:
    """Uses of the pyiceberg private names the module lists: on any object but ``self`` and
    ``cls`` (whose own private names are checked class by class), or as a bare name that the
    file does not define itself (a module's own ``_table`` helper is not pyiceberg's)."""
    found = []
    bare = known - own_names(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in known:
            if ast.unparse(node.value) not in ("self", "cls"):
                found.append(f"line {node.lineno}: {ast.unparse(node)}")
        elif isinstance(node, ast.Name) and node.id in bare:
            found.append(f"line {node.lineno}: {node.id}")
    return found


def test_no_other_service_module_touches_pyiceberg_private_names():
    known = listed_names()
    problems = []
    for path in SERVICE_MODULES:
        tree = ast.parse(path.read_text(), filename=str(path))
        for use in pyiceberg_private_imports(tree) + known_private_uses(tree, known):
            problems.append(f"{path.relative_to(MODULE.parents[2])}: {use}")
    assert not problems, (
        "pyiceberg internals outside schemahub/lake/pyiceberg_private.py (move them there, "
        "with a signature entry):\n" + "\n".join(problems)
    )


def service_classes() -> list[type]:
    """Every class defined in a module of the package (its command entry point aside)."""
    classes = []
    for info in pkgutil.walk_packages(schemahub.__path__, "schemahub."):
        if info.name.endswith("__main__"):
            continue
        module = importlib.import_module(info.name)
        classes += [
            c for c in vars(module).values() if inspect.isclass(c) and c.__module__ == info.name
        ]
    return classes


def pyiceberg_bases(cls: type) -> list[type]:
    return [c for c in cls.__mro__ if c.__module__.startswith("pyiceberg")]


def self_private_names(cls: type) -> set[str]:
    """Private names a class's own code reaches through ``self``, ``cls`` or ``super()``, or
    defines."""
    tree = ast.parse(inspect.getsource(cls).strip() + "\n")
    names = own_names(ast.Module(body=tree.body[0].body, type_ignores=[]))
    for node in ast.walk(tree):
        if is_private_attribute(node) and ast.unparse(node.value) in ("self", "cls", "super()"):
            names.add(node.attr)
    return {name for name in names if is_private(name)}


def pyiceberg_knows(base: type, name: str) -> bool:
    """Whether ``name`` is an attribute of pyiceberg's ``base`` or set on its instances."""
    if name in vars(base):
        return True
    try:
        source = inspect.getsource(base)
    except (OSError, TypeError):
        return False
    return f"self.{name}" in source


def class_problems(cls: type) -> list[str]:
    """The pyiceberg private members ``cls`` overrides or reaches, each with its owner."""
    bases = pyiceberg_bases(cls)
    problems = []
    for name in sorted(self_private_names(cls)) if bases else ():
        owners = [b.__qualname__ for b in bases if pyiceberg_knows(b, name)]
        if owners:
            problems.append(f"{cls.__module__}.{cls.__qualname__}.{name} ({owners[0]})")
    return problems


def test_no_other_service_class_overrides_or_reaches_pyiceberg_private_members():
    problems = []
    for cls in service_classes():
        if cls.__module__ != private.__name__:
            problems += class_problems(cls)
    assert not problems, (
        "pyiceberg private members overridden or used outside "
        "schemahub/lake/pyiceberg_private.py:\n" + "\n".join(problems)
    )


def test_the_checks_flag_the_uses_pyiceberg_private_makes():
    # The checks above must be able to fail: run on the module itself, they find its uses.
    tree = ast.parse(MODULE.read_text())
    imports = pyiceberg_private_imports(tree)
    assert "from pyiceberg.table.update.snapshot import _OverwriteFiles" in imports
    assert "from pyiceberg.io.pyarrow import _get_parquet_writer_kwargs" in imports
    uses = " ".join(known_private_uses(tree, listed_names()))
    for use in ("txn._append_snapshot_producer", "txn._apply", "_apply_table_update"):
        assert use in uses, use
    flagged = class_problems(private.SqlCatalogLoadHook) + class_problems(private._ReplaceFiles)
    flagged_names = {problem.split(" ")[0].rsplit(".", 1)[1] for problem in flagged}
    assert {"_convert_orm_to_iceberg", "_load_file_io", "_summary"} <= flagged_names
    assert {"_table", "_updates"} <= {
        p.split(" ")[0].rsplit(".", 1)[1] for p in class_problems(private.LeanTransaction)
    }
    # and the catalogs built on them are among the classes the class check walks
    walked = {c.__qualname__ for c in service_classes() if pyiceberg_bases(c)}
    assert {"LeanSqlCatalog", "LeanGlueCatalog", "LeanTransaction"} <= walked
