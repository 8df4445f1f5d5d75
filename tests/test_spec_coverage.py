"""Every broker-role rule of the checklist has a test that performs its attack, or a stated reason it does not apply.

STYLE P10: tests declare ``@pytest.mark.spec("ID", ...)``; this test reads those markers from the test
sources (no import side effects) and compares them with ``tests/spec_requirements.py``.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.spec_exclusions import NOT_APPLICABLE
from tests.spec_requirements import REQUIREMENTS

TESTS = Path(__file__).resolve().parent
FREE_FORM_PREFIXES = ("OQ-", "IDJAG-", "RS-")


def _marked_ids() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for path in TESTS.rglob("test_*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "spec"
                and isinstance(node.func.value, ast.Attribute)
                and node.func.value.attr == "mark"
            ):
                for arg in node.args:
                    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                        found.setdefault(arg.value, []).append(path.name)
    return found


def test_every_requirement_has_a_test_or_a_reason() -> None:
    marked = _marked_ids()
    missing = sorted(i for i in REQUIREMENTS if i not in marked and i not in NOT_APPLICABLE)
    assert missing == [], f"rules with no test and no stated reason: {missing}"


def test_every_spec_marker_names_a_known_rule() -> None:
    unknown = sorted(i for i in _marked_ids() if i not in REQUIREMENTS and not i.startswith(FREE_FORM_PREFIXES))
    assert unknown == []


def test_exclusions_are_real_rules_and_not_also_tested() -> None:
    marked = _marked_ids()
    assert sorted(set(NOT_APPLICABLE) - set(REQUIREMENTS)) == []
    assert sorted(set(NOT_APPLICABLE) & set(marked)) == []
