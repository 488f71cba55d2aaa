"""Mail::SPF's wording of SPF errors, where pyspf words them differently.

The policy answers show these texts (``reject spf mfrom check failed: DOMAIN: TEXT``), so they are
worded as the original's Mail::SPF words them; the table maps pyspf's messages.
"""

from __future__ import annotations

import re

TERMS_LIMIT = "Maximum DNS-interactive terms limit ({limit}) exceeded"
#: (pyspf's message, Mail::SPF's text); ``{0}``… are the message's groups, ``{limit}`` the terms limit
_ERROR_TEXTS = (
    (r"Unknown mechanism found: (.*)", "Unknown mechanism type '{0}' in 'v=spf1' record"),
    (r"Two or more type TXT spf records found\.?", "Redundant applicable 'v=spf1' sender policies found"),
    (
        r"No valid SPF record for included domain: ([^:]*)(?::.*)?",
        "Included domain '{0}' has no applicable sender policy",
    ),
    (r"redirect domain has no SPF record: (.*)", "Redirect domain '{0}' has no applicable sender policy"),
    (r"Void lookup limit of (\d+) exceeded", "Maximum void DNS look-ups limit ({0}) exceeded"),
    (r"(Maximum DNS-interactive terms limit .*)", "{0}"),
    (
        r"More than \d+ DNS lookups|Too many DNS lookups",
        "Maximum DNS-interactive terms limit ({limit}) exceeded",
    ),
    (
        r"(?:include|redirect) has trivial recursion: .*",
        "Maximum DNS-interactive terms limit ({limit}) exceeded",
    ),
    (r"Invalid IP4 address: (.*)", "Missing required IPv4 address in '{0}'"),
    (r"Invalid IP6 address: (.*)", "Missing required IPv6 address in '{0}'"),
    (r"Invalid IP4 CIDR length: (.*)", "Invalid IPv4 prefix length encountered in '{0}'"),
    (r"Invalid IP6 CIDR length: (.*)", "Invalid IPv6 prefix length encountered in '{0}'"),
    (r"(\w+) has empty domain:(.*)", "Missing required domain-spec in '{0}={1}'"),
    (r"(\w+)= MUST appear at most once: .*", "Duplicate global modifier '{0}' encountered"),
)
#: errors about an included or redirected domain: Mail::SPF names the domain that included it
PARENT_DOMAIN_ERRORS = ("has no applicable sender policy",)
#: a failed look-up of a domain's SPF record (its TXT records), naming the domain
SPF_RECORD_LOOKUP = re.compile(r"on DNS 'TXT' lookup of '([^']+)'")
#: errors Mail::SPF meets only after recursing into the domain (``A ... A``)
RECURSION_ERRORS = re.compile(r"(?:include|redirect) has trivial recursion: (?:include:|redirect=)?(\S+)")


def error_text(code: str, message: str, limit: int = 10) -> str:
    """Mail::SPF's wording of a pyspf error message where they are known to differ."""
    detail = re.sub(r"^SPF (Permanent|Temporary) Error: ", "", message)
    for pattern, wording in _ERROR_TEXTS:
        match = re.fullmatch(pattern, detail)
        if match:
            return wording.format(*match.groups(), limit=limit)
    if code == "none":
        return "No applicable sender policy available"
    return detail


def dns_error_text(reason: str, name: str, qtype: str) -> str:
    """Mail::SPF's temperror for a failed look-up: time-out, an RCODE, or unknown."""
    domain = name.rstrip(".").lower()
    rr_type = "TXT" if qtype == "SPF" else qtype
    if reason in ("timeout", "query timed out"):
        return f"Time-out on DNS '{rr_type}' lookup of '{domain}'"
    if re.fullmatch(r"[A-Z]+", reason):
        return f"'{reason}' error on DNS '{rr_type}' lookup of '{domain}'"
    return f"Unknown error on DNS '{rr_type}' lookup of '{domain}'"


def macro_error_text(macro: str, text: str) -> str:
    """Mail::SPF's permerror for an unknown macro letter in ``text``."""
    char, pos = macro[2:3].lower(), max(text.find(macro), 0)
    return f"Unknown macro character '{char}' at pos {pos} in macro string '{text}'"
