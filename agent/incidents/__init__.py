"""Incidents: the record of each alert episode, from its first bad sample to its resolve,
and the figures drawn from those records (time to detect, acknowledge, resolve)."""
