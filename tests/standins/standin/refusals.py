"""How the local OSS stand-in (NOT Alibaba Cloud OSS) refuses: OSS's XML error body.

    <?xml version="1.0" encoding="UTF-8"?>
    <Error><Code>…</Code><Message>…</Message><RequestId>…</RequestId><HostId>…</HostId>[<EC>…</EC>]</Error>

with the HTTP status OSS uses for that code. The codes and messages follow OSS's error
reference (alibabacloud.com/help/en/oss, "0002-…"/"0003-…" error pages and the API reference's
error tables); the host id says it is the stand-in.
"""

from typing import Optional
from xml.sax.saxutils import escape


class Refused(Exception):
    """A request refused with OSS's status, error code and message (and, where OSS gives
    one, its EC diagnostic code)."""

    def __init__(self, status: int, code: str, message: str, ec: Optional[str] = None):
        super().__init__(message)
        self.status, self.code, self.ec = status, code, ec


def xml_error(code: str, message: str, request_id: str = "", ec: Optional[str] = None) -> bytes:
    extra = f"<EC>{escape(ec)}</EC>" if ec else ""
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{escape(code)}</Code>'
            f"<Message>{escape(message)}</Message><RequestId>{escape(request_id)}</RequestId>"
            f"<HostId>oss stand-in (local, not Alibaba Cloud OSS)</HostId>{extra}</Error>").encode()


def not_available(what: str) -> Refused:
    """Something OSS offers that this stand-in does not."""
    return Refused(400, "InvalidArgument", f"{what} is not available in the local stand-in"
                   " (it is not Alibaba Cloud OSS)")
