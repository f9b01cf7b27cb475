"""The fault table: scenarios that attack real Parley servers and count what happened to every message.

`scenarios.py` defines them (SQLite; two nodes on PostgreSQL + Redis with each service link through a
proxy the scenario controls), `counts.py` counts sent/acked/stored/delivered/lost/duplicated, `proxy.py`
is the controllable TCP proxy, `clients.py` the chatting, slow and hostile clients, and `table.py`
prints the markdown table. `scripts/faults` runs them; `tests/test_faults.py` runs the short profile.
See docs/reliability.md.
"""
