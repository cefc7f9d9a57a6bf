"""Judging measured values: static limits (and, later, learned baselines and forecasts)."""
