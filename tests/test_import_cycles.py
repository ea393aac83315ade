"""engine's modules import each other without cycles: each module sits below the ones that
import it, so none needs an import inside a function to break a loop. grimp reads every
import, those inside functions and those under TYPE_CHECKING too (a type named from a
module that imports this one is a cycle all the same: the last two went with #25)."""

from __future__ import annotations

import grimp


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in sorted(edges[module]):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == module:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for module in sorted(edges):
        if module not in index:
            visit(module)
    return found


def engine_imports() -> dict[str, set[str]]:
    graph = grimp.build_graph("engine", exclude_type_checking_imports=False, cache_dir=None)
    modules = set(graph.modules)
    return {m: graph.find_modules_directly_imported_by(m) & modules for m in modules}


def test_the_cycle_finder_names_a_cycle_and_only_a_cycle():
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert cycles(edges) == [["a", "b", "c"]]


def test_engine_has_no_import_cycles():
    found = cycles(engine_imports())
    assert not found, "import cycles in engine: " + "; ".join(" <-> ".join(c) for c in found)
