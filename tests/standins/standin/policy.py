"""A RAM session policy evaluator for the local OSS and STS stand-ins (NOT Alibaba Cloud's RAM).

The OSS stand-in asks it whether a request made with an STS key may go ahead, given the
session policies the key is held to (the `Policy` of its AssumeRole, and of each AssumeRole
before it in a chain: `decide_all`, where every policy must allow); the STS stand-in asks it
whether a session key may chain (`sts:AssumeRole` on the role's ARN):

* an explicit `Deny` statement that matches wins; else a matching `Allow` is needed; nothing
  matching is an implicit deny;
* a statement matches when its `Action` names the request's action (`oss:PutObject`; compared
  case-insensitively), its `Resource` names the request's resource (case-sensitively), and
  every condition holds. `*` matches any run of characters and `?` one character, in actions
  and resources alike; `Action`/`Resource` may be a string or a list;
* resources are `acs:oss:<region>:<account>:<bucket>/<key>` for object actions and
  `acs:oss:<region>:<account>:<bucket>` for bucket actions (a policy's `acs:oss:*:*:...` matches
  them); for `sts:AssumeRole`, the role's ARN;
* conditions: the operators `StringEquals`, `StringNotEquals`, `StringLike`, `StringNotLike`
  and `Bool` on the keys `oss:Prefix`, `oss:Delimiter` and `acs:SecureTransport` (always
  "false": the stand-ins serve plain HTTP); values a string, a boolean or a list, any of which
  may hold. A key the request does not carry fails a positive operator and satisfies a negated
  one.

What the evaluator cannot judge (any other condition key or operator, `NotAction`,
`NotResource`, `Principal`, `NotPrincipal`) fails closed: in an `Allow` that part counts as not
matching (the statement grants nothing), in a `Deny` it counts as matching (the statement
denies unless a part it can judge does not match). The parts of a statement combine as a
three-valued AND: False if any part is False, else unknown if any part is unknown.

What is not modelled: the role's own permission policy (RAM intersects it with the session
policy; here only the session policies count), bucket policies and ACLs, and every RAM
condition key but the three above.
"""

import re
from typing import Dict, Iterable, List, Optional, Sequence

OPERATORS = {
    "StringEquals": lambda actual, pattern: actual == pattern,
    "StringNotEquals": lambda actual, pattern: actual != pattern,
    "StringLike": lambda actual, pattern: wildcard(pattern).fullmatch(actual) is not None,
    "StringNotLike": lambda actual, pattern: wildcard(pattern).fullmatch(actual) is None,
    "Bool": lambda actual, pattern: actual.lower() == pattern.lower(),
}
NEGATED = ("StringNotEquals", "StringNotLike")
CONDITION_KEYS = ("oss:prefix", "oss:delimiter", "acs:securetransport")
# What every request to the stand-ins carries: they serve plain HTTP.
CONTEXT = {"acs:securetransport": "false"}


def wildcard(pattern: str, ignore_case: bool = False) -> "re.Pattern[str]":
    """`*` is any run of characters, `?` one character; everything else is literal."""
    parts = (".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile("".join(parts), re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def as_list(value) -> List[str]:
    """A string, boolean or list of them as a list of strings (booleans as "true"/"false");
    [] for anything else."""
    items = value if isinstance(value, list) else [value]
    if not all(isinstance(v, (str, bool)) for v in items):
        return []
    return [str(v).lower() if isinstance(v, bool) else v for v in items]


def names(patterns: Iterable[str], value: str, ignore_case: bool = False) -> bool:
    return any(wildcard(p, ignore_case).fullmatch(value) for p in patterns)


def all_of(parts: Iterable[Optional[bool]]) -> Optional[bool]:
    """Three-valued AND: False if any part is False, else None (unknown) if any is None."""
    parts = list(parts)
    if any(p is False for p in parts):
        return False
    return None if any(p is None for p in parts) else True


def condition_holds(operator: str, key: str, expected, context: Dict[str, str]) -> Optional[bool]:
    """Whether one condition holds; None when the operator or key is not modelled."""
    values = as_list(expected)
    if operator not in OPERATORS or key.lower() not in CONDITION_KEYS or not values:
        return None
    actual = context.get(key.lower())
    if actual is None:
        return operator in NEGATED
    if operator in NEGATED:
        return all(OPERATORS[operator](actual, v) for v in values)
    return any(OPERATORS[operator](actual, v) for v in values)


def conditions_hold(conditions, context: Dict[str, str]) -> Optional[bool]:
    if conditions is None:
        return True
    if not isinstance(conditions, dict):
        return None
    results = []
    for operator, tests in conditions.items():
        if not isinstance(tests, dict):
            results.append(None)
            continue
        results += [condition_holds(operator, key, expected, context) for key, expected in tests.items()]
    return all_of(results)


def statement_matches(statement: dict, action: str, resource: str, context: Dict[str, str]) -> Optional[bool]:
    """Whether the statement applies to the request; None when a part of it cannot be judged
    and no part that can be judged fails."""
    return all_of([
        None if "NotAction" in statement else names(as_list(statement.get("Action")), action, ignore_case=True),
        None if "NotResource" in statement else names(as_list(statement.get("Resource")), resource),
        None if "Principal" in statement or "NotPrincipal" in statement else True,
        conditions_hold(statement.get("Condition"), context),
    ])


def decide(policy: Optional[dict], action: str, resource: str,
           context: Optional[Dict[str, str]] = None) -> str:
    """"allow", "deny" (an explicit Deny matched) or "implicit" (no Allow matched).

    `context` maps condition keys (any case, e.g. "oss:Prefix") to the request's values;
    `acs:SecureTransport` is "false" unless given.
    """
    context = {**CONTEXT, **{k.lower(): v for k, v in (context or {}).items()}}
    statements = policy.get("Statement") if isinstance(policy, dict) else None
    judged = [(s.get("Effect"), statement_matches(s, action, resource, context))
              for s in statements or [] if isinstance(s, dict)]
    if any(effect == "Deny" and match is not False for effect, match in judged):
        return "deny"
    return "allow" if any(effect == "Allow" and match is True for effect, match in judged) else "implicit"


def decide_all(policies: Sequence[dict], action: str, resource: str,
               context: Optional[Dict[str, str]] = None) -> str:
    """decide() over every policy a chained session is held to: "allow" only when each allows."""
    results = [decide(p, action, resource, context) for p in policies]
    if "deny" in results:
        return "deny"
    return "allow" if all(r == "allow" for r in results) else "implicit"
