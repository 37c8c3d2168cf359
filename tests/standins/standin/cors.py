"""The bucket CORS rules of the local OSS stand-in (a stand-in, NOT Alibaba Cloud OSS).

Rules are dicts like README's "The bucket's CORS rule" table:
`{"origins": ["https://app.example.com"], "methods": ["GET", "PUT"], "headers": ["*"],
"expose": ["ETag", "x-oss-request-id"], "max_age": 600}`. As on OSS, the first rule that
matches the request's Origin (`*` wildcards), method and every requested header
(case-insensitive, `*` wildcards) decides:

* a preflight (OPTIONS) that a rule allows gets Access-Control-Allow-Origin (the request's
  origin), -Allow-Methods, -Allow-Headers (the headers asked for), -Expose-Headers and -Max-Age;
  one no rule allows is 403 AccessForbidden "CORSResponse: This CORS request is not allowed…",
  and with no CORS configured at all 403 AccessForbidden "CORSResponse: CORS is not enabled for
  this bucket.";
* any other response to a request whose Origin and method a rule allows carries
  Access-Control-Allow-Origin, -Allow-Methods, -Expose-Headers and -Max-Age (errors too, so a
  page can read them).
"""

from typing import Dict, List, Optional

from .policy import wildcard
from .refusals import Refused

NOT_ALLOWED = ("CORSResponse: This CORS request is not allowed. This is usually because the evalution of"
               " Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers"
               " are not whitelisted by the resource's CORS spec.")


def matching_rule(rules: List[dict], origin: str, method: str, headers: List[str]) -> Optional[dict]:
    for rule in rules:
        if (any(wildcard(o).fullmatch(origin) for o in rule.get("origins", []))
                and method in [m.upper() for m in rule.get("methods", [])]
                and all(any(wildcard(a, ignore_case=True).fullmatch(h) for a in rule.get("headers", []))
                        for h in headers)):
            return rule
    return None


def answer_headers(rule: dict, origin: str) -> Dict[str, str]:
    out = {"Access-Control-Allow-Origin": origin,
           "Access-Control-Allow-Methods": ", ".join(m.upper() for m in rule.get("methods", [])),
           "Vary": "Origin"}
    if rule.get("expose"):
        out["Access-Control-Expose-Headers"] = ", ".join(rule["expose"])
    if rule.get("max_age") is not None:
        out["Access-Control-Max-Age"] = str(rule["max_age"])
    return out


def preflight(rules: Optional[List[dict]], request_headers) -> Dict[str, str]:
    """The headers of an allowed preflight; 403 AccessForbidden otherwise."""
    if rules is None:
        raise Refused(403, "AccessForbidden", "CORSResponse: CORS is not enabled for this bucket.")
    origin = request_headers.get("Origin") or ""
    method = (request_headers.get("Access-Control-Request-Method") or "").upper()
    asked = [h.strip().lower() for h in (request_headers.get("Access-Control-Request-Headers") or "").split(",")
             if h.strip()]
    rule = matching_rule(rules, origin, method, asked) if origin and method else None
    if rule is None:
        raise Refused(403, "AccessForbidden", NOT_ALLOWED)
    out = answer_headers(rule, origin)
    if asked:
        out["Access-Control-Allow-Headers"] = ", ".join(asked)
    return out


def actual(rules: Optional[List[dict]], origin: Optional[str], method: str) -> Dict[str, str]:
    """The CORS headers of a response to `method` from `origin` (none if no rule allows it)."""
    rule = matching_rule(rules or [], origin, method, []) if origin else None
    return answer_headers(rule, origin) if rule else {}
