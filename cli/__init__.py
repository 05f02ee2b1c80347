"""`pathwise`: the one command for every part of the system, and the top of the import graph.

The command line is the composition root: it is the only package that imports every layer
(`pathwise` the shared base, `flows`, `ml`, `rag`, `apps`, `agents`), so the layers below never import it or
each other upward. Each module holds one group of commands, each a thin wrapper over a library
function; imports are lazy so that `pathwise --help` stays instant.

    cli/data.py      simulate, import, ingest, build, seeds, status
    cli/run.py       demo, nightly, publish, serve, app, dev-cert
    cli/qa.py        index, ask
    cli/evaluate.py  evaluate recs | dropout | styles | rag
    cli/users.py     users add | list | remove | demo
    cli/keys.py      keys create | list | revoke | rotate
    cli/privacy.py   privacy erase | export
    cli/agents.py    agents run | deliver | pause | resume | contact add | contact remove
    cli/briefs.py    brief list | make | backtest
"""

from __future__ import annotations

import os

import typer

from cli import agents, briefs, data, evaluate, keys, privacy, qa, run, users

# Prefect's temporary API server gives up after 30 s by default; on a busy 2-core machine its
# start-up took 3 min (load 11), and the flow would fail before doing anything (override in env).
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "300")
# Nothing reaches the internet: Prefect's server would send a telemetry heartbeat to Prefect.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

app = typer.Typer(
    help="Pathwise: private learner-event ingestion, dbt marts and recommendations.\n\n"
    "Start with `make demo`, or: pathwise simulate --out var/landing/sim && "
    "pathwise ingest var/landing/sim && pathwise build",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)
for group in (data.app, run.app, qa.app):
    app.add_typer(group)  # no name: their commands sit at the top level
app.add_typer(evaluate.app, name="evaluate", rich_help_panel="Evaluate")
app.add_typer(users.app, name="users", rich_help_panel="Admin")
app.add_typer(keys.app, name="keys", rich_help_panel="Admin")
app.add_typer(privacy.app, name="privacy", rich_help_panel="Admin")
app.add_typer(agents.app, name="agents", rich_help_panel="Admin")
app.add_typer(briefs.app, name="brief", rich_help_panel="Instructors")


@app.callback()
def _private_state() -> None:
    """Before any command: what it writes under PATHWISE_HOME is private (0600 files, 0700 folders)."""
    from pathwise.at_rest import private_process

    private_process()
