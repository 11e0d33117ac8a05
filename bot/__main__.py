"""`python -m bot` is the same as the `briefbot` console script."""

from bot.app.cli import main

raise SystemExit(main())
