"""The durable state store (SQLite): alert states, the notification outbox, check memory."""

from agent.store.db import DB_NAME, Store
from agent.store.records import Delivery, OutboxRow

__all__ = ["DB_NAME", "Delivery", "OutboxRow", "Store"]
