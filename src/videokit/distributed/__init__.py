"""Distributed mode: Celery workers on a Redis broker, results in the shared store.

Needs the ``distributed`` extra: ``pip install 'videokit[distributed]'``.
"""

from videokit.distributed.app import PRIORITIES, QUEUES
from videokit.distributed.board import Board, BrokerUnreachable
from videokit.distributed.submit import SubmitReport, resubmit, submit, sync

__all__ = ["PRIORITIES", "QUEUES", "Board", "BrokerUnreachable", "SubmitReport", "resubmit", "submit", "sync"]
