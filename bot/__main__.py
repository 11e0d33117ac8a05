"""`python -m bot` is the same as the `briefbot` console script."""

from bot.app.cli.main import main

raise SystemExit(main())
