"""What several check kinds use: host helpers (percentages, calls with a deadline), network
words (failures, budgets, host and port options) and running a helper program."""
