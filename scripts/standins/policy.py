"""A RAM session policy evaluator for the local OSS stand-in (NOT Alibaba Cloud's RAM).

The OSS stand-in asks it whether a request made with an STS key may go ahead, given the
session policy the key's AssumeRole carried (the `Policy` parameter, parsed):

* an explicit `Deny` statement that matches wins; else a matching `Allow` is needed; nothing
  matching is an implicit deny;
* a statement matches when its `Action` names the request's action (`oss:PutObject`; compared
  case-insensitively), its `Resource` names the request's resource (case-sensitively), and
  every condition holds. `*` matches any run of characters and `?` one character, in actions
  and resources alike; `Action`/`Resource` may be a string or a list;
* resources are `acs:oss:<region>:<account>:<bucket>/<key>` for object actions and
  `acs:oss:<region>:<account>:<bucket>` for bucket actions (a policy's `acs:oss:*:*:...` matches
  them);
* conditions: the operators `StringEquals`, `StringNotEquals`, `StringLike` and
  `StringNotLike` on the keys `oss:Prefix` and `oss:Delimiter` (values a string or a list, any
  of which may hold). A key the request does not carry fails a positive operator and satisfies a
  negated one. ANY OTHER condition key or operator, and a statement with `NotAction`,
  `NotResource` or `Principal`, makes that statement not match: an `Allow` then grants
  nothing (the stand-in refuses what it cannot judge), and a `Deny` then denies nothing.

What is not modelled: the role's own permission policy (RAM intersects it with the session
policy; here only the session policy counts), bucket policies and ACLs, and every RAM condition
key but the two above.
"""

import re
from typing import Dict, Iterable, List, Optional

OPERATORS = {
    "StringEquals": lambda actual, pattern: actual == pattern,
    "StringNotEquals": lambda actual, pattern: actual != pattern,
    "StringLike": lambda actual, pattern: wildcard(pattern).fullmatch(actual) is not None,
    "StringNotLike": lambda actual, pattern: wildcard(pattern).fullmatch(actual) is None,
}
NEGATED = ("StringNotEquals", "StringNotLike")
CONDITION_KEYS = ("oss:prefix", "oss:delimiter")
UNMODELLED_FIELDS = ("NotAction", "NotResource", "Principal", "NotPrincipal")


def wildcard(pattern: str, ignore_case: bool = False) -> "re.Pattern[str]":
    """`*` is any run of characters, `?` one character; everything else is literal."""
    parts = (".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile("".join(parts), re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def as_list(value) -> List[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    return []


def names(patterns: Iterable[str], value: str, ignore_case: bool = False) -> bool:
    return any(wildcard(p, ignore_case).fullmatch(value) for p in patterns)


def condition_holds(operator: str, key: str, expected, context: Dict[str, str]) -> bool:
    values = as_list(expected)
    actual = context.get(key.lower())
    if actual is None:
        return operator in NEGATED
    if operator in NEGATED:
        return all(OPERATORS[operator](actual, v) for v in values)
    return any(OPERATORS[operator](actual, v) for v in values)


def conditions_hold(conditions, context: Dict[str, str]) -> bool:
    """All conditions hold; an operator or key not modelled here never holds."""
    if conditions is None:
        return True
    if not isinstance(conditions, dict):
        return False
    for operator, tests in conditions.items():
        if operator not in OPERATORS or not isinstance(tests, dict):
            return False
        for key, expected in tests.items():
            if key.lower() not in CONDITION_KEYS or not as_list(expected):
                return False
            if not condition_holds(operator, key, expected, context):
                return False
    return True


def statement_matches(statement, action: str, resource: str, context: Dict[str, str]) -> bool:
    if not isinstance(statement, dict) or any(f in statement for f in UNMODELLED_FIELDS):
        return False
    return (names(as_list(statement.get("Action")), action, ignore_case=True)
            and names(as_list(statement.get("Resource")), resource)
            and conditions_hold(statement.get("Condition"), context))


def decide(policy: Optional[dict], action: str, resource: str,
           context: Optional[Dict[str, str]] = None) -> str:
    """"allow", "deny" (an explicit Deny matched) or "implicit" (no Allow matched).

    `context` maps condition keys (lower case, e.g. "oss:prefix") to the request's values.
    """
    context = {k.lower(): v for k, v in (context or {}).items()}
    statements = policy.get("Statement") if isinstance(policy, dict) else None
    matching = [s.get("Effect") for s in statements or []
                if statement_matches(s, action, resource, context)]
    if "Deny" in matching:
        return "deny"
    return "allow" if "Allow" in matching else "implicit"
