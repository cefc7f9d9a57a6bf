"""Each series' downsampled history: raw samples, 5-minute and 1-hour rollups, outages.

``recorder`` writes it as the agent runs; ``queries.HistoryQueries`` reads it back
(uptime, daily states, response times) for ``watchkeeper uptime``, ``/metrics`` and the
status page. Nothing is imported here: the running agent loads only the recorder, the read
side waits for its first reader.
"""
