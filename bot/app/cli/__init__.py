"""The `briefbot` command line: a thin layer over the runtime.

`main.py` builds the parser and maps errors to exit statuses; `inspect.py`
holds the commands that only read (they open a snapshot of the data directory
and work while `briefbot run` holds it); `operate.py` the ones that poll,
post or serve (they take the data directory, and refuse, naming the holder,
when another process has it).
"""
