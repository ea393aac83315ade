"""Code outside engine/runtimes/ never decides by a runtime's name: it asks the runtime
(engine.runtimes.runtime_named). Read from the source (the AST), over engine/ and tui/:
a comparison (==, !=, in, not in, is, a match case) against a runtime's name, written out
or through a constant that holds it, fails this test, naming the file and the line."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from engine import settings
from engine.errors import UsageError
from engine.runtimes import DEFAULT, RUNTIMES, UnknownRuntime, runtime_named

REPO_ROOT = Path(__file__).resolve().parent.parent
NAMES = frozenset(RUNTIMES)


def _holds_name(node: ast.AST, constants: set[str]) -> bool:
    if isinstance(node, ast.Constant):
        return _is_name(node)
    if isinstance(node, ast.Name):
        return node.id in constants
    if isinstance(node, ast.Attribute):
        return node.attr in constants
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return any(_holds_name(item, constants) for item in node.elts)
    return False


def _is_name(node: ast.AST | None) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in NAMES


def _constants(tree: ast.Module) -> set[str]:
    """Names bound to one runtime's name in the module (``DEFAULT = "transformers"``), and
    the runtimes' name constants imported from elsewhere. (A tuple of every choice, as
    engine.settings.RUNTIMES, checks a setting: it decides nothing.)"""
    found = {"TRANSFORMERS", "LLAMA_CPP"}
    for node in tree.body:  # module level: a dataclass field's default is no constant
        if isinstance(node, ast.Assign) and _is_name(node.value):
            found.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and _is_name(node.value):
            if isinstance(node.target, ast.Name):
                found.add(node.target.id)
    return found


def name_comparisons(source: str) -> list[int]:
    """The lines of ``source`` that compare something with a runtime's name."""
    tree = ast.parse(source)
    constants = _constants(tree)
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            if any(_holds_name(side, constants) for side in (node.left, *node.comparators)):
                lines.append(node.lineno)
        elif isinstance(node, ast.match_case):
            patterns = [node.pattern]
            while patterns:
                pattern = patterns.pop()
                if isinstance(pattern, ast.MatchValue) and _holds_name(pattern.value, constants):
                    lines.append(pattern.lineno)
                elif isinstance(pattern, ast.MatchOr):
                    patterns.extend(pattern.patterns)
    return sorted(lines)


def _sources() -> list[Path]:
    inside = REPO_ROOT / "engine" / "runtimes"
    return [
        path
        for folder in ("engine", "tui")
        for path in sorted((REPO_ROOT / folder).rglob("*.py"))
        if not path.is_relative_to(inside)
    ]


def test_each_form_of_comparison_is_found():
    source = (
        'DEFAULT = "transformers"\n'
        'a = runtime == "llama.cpp"\n'
        'b = "transformers" != runtime\n'
        'c = runtime in ("auto", "llama.cpp")\n'
        "d = runtime not in [LLAMA_CPP]\n"
        "e = runtime == DEFAULT\n"
        "f = runtime == choice.TRANSFORMERS\n"
        "match runtime:\n"
        '    case "auto" | "llama.cpp":\n'
        "        pass\n"
        'g = runtime == "auto" or label == "llama.cpp runtime"\n'
    )
    assert name_comparisons(source) == [2, 3, 4, 5, 6, 7, 9]


def test_no_runtime_name_is_compared_outside_engine_runtimes():
    found = []
    for path in _sources():
        relative = path.relative_to(REPO_ROOT).as_posix()
        found += [f"{relative}:{line}" for line in name_comparisons(path.read_text())]
    assert not found, "ask the runtime (engine.runtimes) instead: " + ", ".join(found)


def test_the_settings_choices_are_auto_and_the_runtimes_there_are():
    # engine.settings sits below the runtimes and cannot import them: its list of choices
    # is the one other place a runtime is named.
    assert settings.RUNTIMES == ("auto", *RUNTIMES)
    assert settings.LoadOptions("any").runtime == DEFAULT.name


def test_an_unknown_runtime_is_refused_naming_those_there_are():
    assert runtime_named("llama.cpp").name == "llama.cpp"
    assert runtime_named(None) is DEFAULT  # a run stored before runtimes were recorded
    with pytest.raises(UnknownRuntime, match="unknown runtime 'vllm': use one of ") as err:
        runtime_named("vllm")
    assert isinstance(err.value, UsageError)
    assert all(name in str(err.value) for name in RUNTIMES)
