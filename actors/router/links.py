"""Links in chat: which hosts a message points at, and whether they are allowed.

Spam hides links: full-width dots, "example[.]com", "example (dot) com",
bare domains without a scheme. Chat also looks like links by accident
("Mr.Kim", "main.py"), so a bare "word.word" counts only with a TLD that
spam uses, or with a path after it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# Browsers also split host names at these full stops, so spam uses them.
_DOT = "[.\u3002\uff0e\uff61]"
_OBFUSCATED_DOT = re.compile(r"\s*[\[({<]\s*(?:\.|dot)\s*[\])}>]\s*")
_MAYBE_LINK = re.compile(rf"{_DOT}|dot", re.IGNORECASE)
_LABEL = r"[^\W_]+(?:-+[^\W_]+)*"
_LINK = re.compile(
    r"https?://(?P<authority>[^\s/?#]+)\S*"
    rf"|(?<![\w@.\u3002\uff0e\uff61-])(?P<host>(?:{_LABEL}{_DOT})+(?P<tld>[a-z]{{2,24}}))"
    rf"(?!{_DOT}?[\w-])(?P<path>/)?"
)
_PORT = re.compile(r":\d*$")
_ASCII_DOTS = str.maketrans("\u3002\uff0e\uff61", "...")
# Without a "/" after it, "word.word" is a link only with a TLD that spam
# uses: "Mr.Kim", "ok.sure" and "main.py" are chat, "bit.ly" is not.
_SPAM_TLDS = """com net org info biz io co me tv gg ly be to cc ws sh ai app dev xyz top site online shop store live
    link click club fun vip win icu gl gd su pw tk ml ga cf gq kr jp cn ru uk us de fr in br es it nl eu ca au id ph
    vn th tw hk sg"""
_COMMON_TLDS = frozenset(_SPAM_TLDS.split())


def find_links(text: str) -> list[str]:
    """Host names of the links in the text: lowercased, without "www.", each once.

    Finds http(s) URLs, bare domains ("bit.ly/abc", "free-robux.example/x",
    "youtube.com") and bracketed dots ("example[.]com", "example (dot) com").
    A host needs a dot: "http://localhost" is not reported.
    """
    if not _MAYBE_LINK.search(text):
        return []
    text = _OBFUSCATED_DOT.sub(".", text.lower())
    hosts: dict[str, None] = {}
    for m in _LINK.finditer(text):
        if m["authority"]:
            host = _PORT.sub("", m["authority"].rpartition("@")[2])
        elif m["path"] or m["tld"] in _COMMON_TLDS:
            host = m["host"]
        else:
            continue
        host = host.translate(_ASCII_DOTS).strip(".").removeprefix("www.")
        if "." in host:
            hosts[host] = None
    return list(hosts)


def host_allowed(host: str, allow: Iterable[str]) -> bool:
    """True if host is an allowed domain or a subdomain of one.

    "m.youtube.com" is allowed by "youtube.com"; "youtube.com.evil.example"
    and "notyoutube.com" are not.
    """
    host = host.lower().strip(".").removeprefix("www.")
    for entry in allow:
        domain = entry.lower().strip().removeprefix("*").strip(".").removeprefix("www.")
        if domain and (host == domain or host.endswith("." + domain)):
            return True
    return False
