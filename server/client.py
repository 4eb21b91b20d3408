"""The Python client of the HTTP API is the standalone `referee-client` distribution (client/).

It depends on httpx only, so trainers install it without Referee's own packages (whose
`verifiers` name collides with PrimeIntellect's). This module keeps the old import path working.
"""

from referee_client import AsyncRefereeClient, RefereeClient, RefereeError, Verdict, make_item

__all__ = ["AsyncRefereeClient", "RefereeClient", "RefereeError", "Verdict", "make_item"]
