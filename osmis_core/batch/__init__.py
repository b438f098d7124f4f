"""`osmis batch`: one model per source (labelled image or video), scheduled by Ray, merged into one dataset.

Ray is an optional dependency (`pip install -e '.[batch]'`); it is imported only when a batch runs.
"""

from .driver import run_batch
from .events import (
    BatchControl,
    BatchEvent,
    BatchFinished,
    BatchStarted,
    DatasetWritten,
    RunFinished,
    RunProgress,
    RunStarted,
)
from .layout import BatchFolder
from .sources import BatchSource, list_sources

__all__ = [
    "BatchControl",
    "BatchEvent",
    "BatchFinished",
    "BatchFolder",
    "BatchSource",
    "BatchStarted",
    "DatasetWritten",
    "RunFinished",
    "RunProgress",
    "RunStarted",
    "list_sources",
    "run_batch",
]
