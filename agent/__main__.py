"""``python -m agent`` is the ``watchkeeper`` command."""

from agent.cli.main import main

raise SystemExit(main())
