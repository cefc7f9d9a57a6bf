"""Each series' downsampled history: raw samples, 5-minute and 1-hour rollups, outages.

``recorder`` writes it as the agent runs; ``queries.HistoryQueries`` reads it back
(uptime, daily states, response times) for ``watchkeeper uptime``, ``/metrics`` and the
status page.
"""

from agent.history.queries import HistoryQueries

__all__ = ["HistoryQueries"]
