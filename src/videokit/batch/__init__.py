"""Local batches: the ledger-driven runner, sequential or with worker processes."""

from videokit.batch.runner import BatchRunner, run_items
from videokit.batch.settings import settings_hash

__all__ = ["BatchRunner", "run_items", "settings_hash"]
