"""Conditions on knowledge-base lines, such as `days_since_delivery <= 15`.

A condition is a small expression over the case facts, written in the YAML as
data and read here with Python's `ast` parser, never executed: only names,
numbers, strings, lists, comparisons (== != < <= > >= in, not in), `and`,
`or`, `not` and + - * between numbers are accepted; anything else is refused
when the knowledge base loads.

Evaluation has three outcomes. True or False when every fact the condition
needs is known; None when a fact is still missing, so that the engine can ask
for it before offering a line that may not fit.
"""

import ast
import operator
from typing import Any, Dict, FrozenSet, Iterable, List, Optional, Sequence, Union

_COMPARE = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.In: lambda a, b: a in b,
    ast.NotIn: lambda a, b: a not in b,
}
_ARITHMETIC = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul}


class ConditionError(ValueError):
    """A condition that is not in the accepted small language."""


class Condition:
    """One parsed condition; `names` are the facts it reads."""

    def __init__(self, source: str) -> None:
        self.source = source
        try:
            self._tree = ast.parse(source.strip(), mode="eval").body
        except SyntaxError as error:
            raise ConditionError(f"cannot read condition '{source}': {error.msg}") from error
        self.names: FrozenSet[str] = frozenset(self._check(self._tree))

    def _check(self, node: ast.AST) -> set:
        if isinstance(node, ast.Name):
            return {node.id}
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float, str, bool)):
            return set()
        if isinstance(node, (ast.List, ast.Tuple)):
            return set().union(*(self._check(e) for e in node.elts)) if node.elts else set()
        if isinstance(node, ast.BoolOp):
            return set().union(*(self._check(v) for v in node.values))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.Not, ast.USub)):
            return self._check(node.operand)
        if isinstance(node, ast.BinOp) and type(node.op) in _ARITHMETIC:
            return self._check(node.left) | self._check(node.right)
        if isinstance(node, ast.Compare) and all(type(op) in _COMPARE for op in node.ops):
            return self._check(node.left).union(*(self._check(c) for c in node.comparators))
        raise ConditionError(f"not allowed in a condition: {ast.dump(node)[:60]} in '{self.source}'")

    def evaluate(self, facts: Dict[str, Any]) -> Optional[Any]:
        """The value of the condition, or None when a fact it needs is missing."""
        try:
            return _value(self._tree, facts)
        except _Missing:
            return None
        except TypeError:
            return False  # a fact of the wrong kind (text compared with a number) does not fit

    def missing(self, facts: Dict[str, Any]) -> FrozenSet[str]:
        return frozenset(name for name in self.names if facts.get(name) is None)


class _Missing(Exception):
    pass


def _value(node: ast.AST, facts: Dict[str, Any]) -> Any:
    if isinstance(node, ast.Name):
        if facts.get(node.id) is None:
            raise _Missing(node.id)
        return facts[node.id]
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, (ast.List, ast.Tuple)):
        return [_value(e, facts) for e in node.elts]
    if isinstance(node, ast.UnaryOp):
        value = _value(node.operand, facts)
        return (not value) if isinstance(node.op, ast.Not) else -value
    if isinstance(node, ast.BinOp):
        return _ARITHMETIC[type(node.op)](_value(node.left, facts), _value(node.right, facts))
    if isinstance(node, ast.BoolOp):
        return _bool_op(node, facts)
    if isinstance(node, ast.Compare):
        left = _value(node.left, facts)
        for op, comparator in zip(node.ops, node.comparators):
            right = _value(comparator, facts)
            if not _COMPARE[type(op)](left, right):
                return False
            left = right
        return True
    raise ConditionError("unreachable: checked at parse time")


def _bool_op(node: ast.BoolOp, facts: Dict[str, Any]) -> Any:
    """`and`/`or` where a missing fact only matters if it could change the result."""
    missing = False
    for value_node in node.values:
        try:
            value = bool(_value(value_node, facts))
        except _Missing:
            missing = True
            continue
        if isinstance(node.op, ast.And) and not value:
            return False
        if isinstance(node.op, ast.Or) and value:
            return True
    if missing:
        raise _Missing("")
    return isinstance(node.op, ast.And)


_cache: Dict[str, Condition] = {}


def condition(source: str) -> Condition:
    """The parsed condition for `source` (parsed once and kept)."""
    if source not in _cache:
        _cache[source] = Condition(source)
    return _cache[source]


def expressions(source: Union[str, Sequence[str], None], default: str = "amount") -> List[str]:
    """A `borne`-style field as a list of expressions: one string, a list, or the default."""
    if source is None:
        return [default]
    return [source] if isinstance(source, str) else list(source)


def first_known_sum(sources: Iterable[str], facts: Dict[str, Any]) -> Optional[float]:
    """The value of the first expression whose facts are all known and that gives a number.

    A sum's role (paid, lost, demanded, charged) is known only when the
    customer's words say it; the lists name the best reading first and the
    NLU's latest `amount` last, so the most precise known figure decides.
    """
    for source in sources:
        value = condition(source).evaluate(facts)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return value
    return None
