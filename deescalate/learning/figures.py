"""The per-line figures the action server ranks with, read off the hot path.

The action server reads the case database (DATABASE_URL, as the tracker
store does) in a background thread at most every `refresh_seconds`
(actions/learning.yml): the recorded turns of the last `window_days` UTC days
and today through deescalate/events.py, and the pinned and retired lines. A
turn only reads the latest snapshot, so its cost does not grow with the
history.

The window is read day by day, and a day that is over (by `SETTLE`, for
turns still being written at midnight) is read once and kept as per-line
sums: after the first refresh, each refresh reads only today's turns, so
its cost does not grow with the window either. A send and the customer's
reply on either side of midnight UTC are not paired, as a send before the
window's start is not.

When the figures cannot be read (no database, a database that is down, no
tables yet) or there are none, `current()` is None and the assist ranks by
fit alone; a failed refresh is logged and retried after `refresh_seconds`.
"""

import datetime as dt
import logging
import threading
import time
from typing import Callable, Dict, Optional, Tuple

from sqlalchemy.orm import Session

from deescalate.db.models import utcnow
from deescalate.db.session import database_url, session_factory
from deescalate.learning.controls import line_states
from deescalate.learning.effectiveness import period_tallies
from deescalate.learning.ranking import Figures, LineStats, line_stats
from deescalate.learning.settings import RankingSettings

logger = logging.getLogger(__name__)

SETTLE = dt.timedelta(minutes=10)
DayStats = Dict[str, LineStats]


class DayByDayReader:
    """Reads the window a UTC day at a time and keeps the days that are over."""

    def __init__(self, now: Callable[[], dt.datetime] = utcnow) -> None:
        self.now = now
        self._days: Dict[Tuple[str, dt.date], DayStats] = {}
        self.reads = 0  # days read from the database, for tests and logs

    def __call__(self, url: Optional[str], window_days: float) -> Figures:
        url = url or database_url()
        now = self.now()
        first = now.date() - dt.timedelta(days=int(window_days))
        days = [first + dt.timedelta(days=k) for k in range((now.date() - first).days + 1)]
        totals: DayStats = {}
        with session_factory(url)() as session:
            for day in days:
                for line, stats in self._day(session, url, day, now).items():
                    totals[line] = totals.get(line, LineStats()) + stats
            states = line_states(session)
        self._days = {key: value for key, value in self._days.items() if key[0] == url and key[1] >= first}
        return Figures(totals, states)

    def _day(self, session: Session, url: str, day: dt.date, now: dt.datetime) -> DayStats:
        start = dt.datetime.combine(day, dt.time())
        end = start + dt.timedelta(days=1)
        kept = self._days.get((url, day))
        if kept is not None:
            return kept
        self.reads += 1
        stats = line_stats(period_tallies(session, start, min(end, now + dt.timedelta(minutes=1))))
        if now >= end + SETTLE:
            self._days[(url, day)] = stats
        return stats


class FiguresCache:
    """The latest figures, refreshed in a background thread; never blocks a turn."""

    def __init__(
        self,
        settings: RankingSettings,
        url: Optional[str] = None,
        reader: Optional[Callable[[Optional[str], float], Figures]] = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.url = url
        self.reader = reader or DayByDayReader()
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
