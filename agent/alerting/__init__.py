"""The alert state machine: pure decisions from findings to notification events."""
