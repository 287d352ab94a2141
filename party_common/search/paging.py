"""Page tokens: where the next page starts, in a value of constant size.

A `next` link carries `_page=<token>` in place of the previous page's token, so the link is the same
length on page 2 as on page 2,000 (a link that grows per page ends in a URL too long to send). The
token is opaque to clients; to the party it is a position: a row offset, or a cursor such as the
last slot's ordinal.
"""

from __future__ import annotations

import base64
import struct

from party_common.outcome import invalid

PAGE = "_page"
_MARK = "p"
MAX_POSITION = 2**63 - 1


def page_token(position: int) -> str:
    return _MARK + base64.urlsafe_b64encode(struct.pack(">Q", position)).decode().rstrip("=")


def read_page_token(token: str) -> int:
    bad = invalid(f"{PAGE}: {token!r} is not a page token this server gave out; follow the `next` link as given",
                  PAGE)
    if len(token) != 12 or not token.startswith(_MARK):
        raise bad
    try:
        (position,) = struct.unpack(">Q", base64.urlsafe_b64decode(token[1:] + "="))
    except (ValueError, struct.error):
        raise bad from None
    if position > MAX_POSITION:
        raise bad
    return position
