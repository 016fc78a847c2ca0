"""``iocgis replica start|stop|status|drop``: the project-local streaming read replica."""

from __future__ import annotations

import typer

from iocgis import replica
from iocgis.settings import get_settings

replica_app = typer.Typer(no_args_is_help=True,
                          help="The project-local streaming read replica (reads routed to it "
                               "with IOCGIS_REPLICA_LOCAL=true).")


@replica_app.command("start")
def start() -> None:
    """Create the replica from the running primary when missing (pg_basebackup -R, its own
    replication slot, port = the primary's + 1, data in <data dir>-replica), start it."""
    settings = get_settings()
    if settings.replica.url:
        print("REPLICA_URL names an existing replica: reads are routed to it; "
              "no local replica is started")
        return
    print(replica.start(settings).describe())


@replica_app.command("stop")
def stop() -> None:
    """Stop the replica; its slot keeps the WAL it has not replayed, so it catches up later."""
    print(replica.stop(get_settings()).describe())


@replica_app.command("status")
def status() -> None:
    print(replica.status(get_settings()).describe())


@replica_app.command("drop")
def drop() -> None:
    """Stop the replica, delete its data directory and the primary's slot for it."""
    replica.drop(get_settings())
    print(replica.status(get_settings()).describe())


def register(app: typer.Typer) -> None:
    app.add_typer(replica_app, name="replica")
