"""What counts as "this machine": used by every server that opens only to loopback without a token.

Plain Python, so both environments import it: the Rasa server's channels and the action server's
plugin (rasa_sdk_plugins)."""

from __future__ import annotations

import ipaddress


def is_loopback(host: str) -> bool:
    """Whether `host` (a bind address or a peer's IP) is this machine only; a name other than
    "localhost" or an unparsable value is not."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
