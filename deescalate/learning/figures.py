"""The per-line figures the action server ranks with, read off the hot path.

The action server reads the case database (DATABASE_URL, as the tracker
store does) in a background thread at most every `refresh_seconds`
(actions/learning.yml): the last `window_days` of recorded turns through
deescalate/events.py, and the pinned and retired lines. A turn only reads
the latest snapshot, so its cost does not grow with the history.

When the figures cannot be read (no database, a database that is down, no
tables yet) or there are none, `current()` is None and the assist ranks by
fit alone; a failed refresh is logged and retried after `refresh_seconds`.
"""

import datetime as dt
import logging
import threading
import time
from typing import Callable, Optional

from deescalate.db.models import utcnow
from deescalate.db.session import database_url, session_factory
from deescalate.learning.controls import line_states
from deescalate.learning.effectiveness import period_tallies
from deescalate.learning.ranking import Figures
from deescalate.learning.settings import RankingSettings

logger = logging.getLogger(__name__)


def read_figures(url: Optional[str], window_days: float) -> Figures:
    """The figures of the last `window_days`, read now (slow: a range read of the events)."""
    end = utcnow() + dt.timedelta(minutes=1)
    with session_factory(url or database_url())() as session:
        tallies = period_tallies(session, end - dt.timedelta(days=window_days), end)
        states = line_states(session)
    return Figures.from_tallies(tallies, states)


class FiguresCache:
    """The latest figures, refreshed in a background thread; never blocks a turn."""

    def __init__(
        self,
        settings: RankingSettings,
        url: Optional[str] = None,
        reader: Callable[[Optional[str], float], Figures] = read_figures,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.url = url
        self.reader = reader
        self.clock = clock
        self._figures: Optional[Figures] = None
        self._started_at = -float("inf")
        self._lock = threading.Lock()
        self._thread: Optional[threading.Thread] = None

    def current(self) -> Optional[Figures]:
        """The latest figures, or None (rank by fit alone); starts a refresh when they are due."""
        with self._lock:
            due = self.clock() - self._started_at >= self.settings.refresh_seconds
            idle = self._thread is None or not self._thread.is_alive()
            if due and idle:
                self._started_at = self.clock()
                self._thread = threading.Thread(target=self.refresh, name="learning-figures", daemon=True)
                self._thread.start()
        figures = self._figures
        return None if figures is None or figures.empty else figures

    def refresh(self) -> None:
        """Read the figures now; on failure rank by fit alone until a refresh succeeds."""
        try:
            figures = self.reader(self.url, self.settings.window_days)
        except Exception as error:  # noqa: BLE001 - any database failure means: rank by fit alone
            logger.warning("Line figures unavailable, ranking by fit alone: %s", error)
            figures = None
        self._figures = figures

    def wait(self, timeout: float = 30.0) -> None:
        """Wait for a running refresh (tests)."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
