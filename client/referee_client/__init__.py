"""referee-client: call a Referee reward service from any trainer.

Depends on httpx only and never imports the server's packages, so it installs next to
PrimeIntellect's `verifiers`, TRL, verl, OpenRLHF or any other trainer.
"""

from referee_client.aio import AsyncRefereeClient
from referee_client.client import DEFAULT_URL, RefereeClient
from referee_client.wire import MASKED_STATUSES, RefereeError, Verdict, make_item

__all__ = ["AsyncRefereeClient", "DEFAULT_URL", "MASKED_STATUSES", "RefereeClient", "RefereeError", "Verdict",
           "make_item"]
__version__ = "0.1.0"
