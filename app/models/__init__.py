"""The database models; importing this package registers every table.

May import: ``app.extensions`` and ``app.instance`` only: every other layer stands on the
models.
"""

from app.models.access import ApiToken, User
from app.models.delivery import ChainState, DeadLetter, Delivery, DeliveryLog
from app.models.publication import Publication, PublicationState
from app.models.search import SearchDocument, SearchField, SearchKeyword, SearchNumber
from app.models.search_outbox import SearchOutbox
from app.models.setting import Setting
from app.models.subscription import Subscription

__all__ = [
    "ApiToken",
    "ChainState",
    "DeadLetter",
    "Delivery",
    "DeliveryLog",
    "Publication",
    "PublicationState",
    "SearchDocument",
    "SearchField",
    "SearchKeyword",
    "SearchNumber",
    "SearchOutbox",
    "Setting",
    "Subscription",
    "User",
]
