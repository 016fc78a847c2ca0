"""``iocgis live ...``: the local broker, the MQTT consumer, devices and datastreams, the
silent-sensor sweep and the partitions; ``iocgis demo live`` is the simulator."""

from __future__ import annotations

import sys

import typer
from rich.console import Console

from iocgis.db import connect, database_url
from iocgis.live import broker
from iocgis.live.datastreams import create_datastream, create_device
from iocgis.live.settings import LiveSettings
from iocgis.settings import get_settings

console = Console(stderr=True)
live_app = typer.Typer(no_args_is_help=True, help="Live data: broker, consumer, devices.")
broker_app = typer.Typer(no_args_is_help=True, help="The project-local MQTT broker.")
live_app.add_typer(broker_app, name="broker")


@broker_app.command("start")
def broker_start() -> None:
    """Start the local Mosquitto on its own port (config and accounts under var/mosquitto)."""
    print(broker.start(get_settings(), LiveSettings()).describe())


@broker_app.command("stop")
def broker_stop() -> None:
    print(broker.stop(get_settings(), LiveSettings()).describe())


@broker_app.command("status")
def broker_status() -> None:
    print(broker.status(get_settings(), LiveSettings()).describe())


@live_app.command("consume")
def consume() -> None:
    """Subscribe to the broker and write every reading through the pipeline (Ctrl-C stops)."""
    from iocgis.layers import get_registry
    from iocgis.live.mqtt import Consumer
    from iocgis.ops.heap import freeze_startup_heap

    settings = get_settings()
    live = LiveSettings()
    if not live.mqtt_url:
        broker.start(settings, live)
    # the writer thread waits on PostgreSQL while the checker parses the next batch: at the
    # default 5 ms switch interval every round trip would wait that long for the GIL
    sys.setswitchinterval(0.0005)
    console.print(f"consuming {live.topic_prefix}/# (QoS 1)")
    consumer = Consumer(settings, database_url(settings), live)
    get_registry()  # (the bridge's) loaded before start-up's objects are frozen
    freeze_startup_heap()  # a full GC walks only what came since (iocgis/ops/heap.py)
    consumer.run_forever()


@live_app.command("datastream")
def datastream(station: str, parameter: str, unit: str = typer.Option(..., "--unit"),
               cadence_s: int = typer.Option(3600, "--cadence-s"),
               min_value: float | None = typer.Option(None, "--min"),
               max_value: float | None = typer.Option(None, "--max")) -> None:
    """Make (or change) the datastream of PARAMETER at STATION."""
    with connect(database_url(), autocommit=True) as conn:
        print(create_datastream(conn, station, parameter, unit, cadence_s=cadence_s,
                                min_value=min_value, max_value=max_value))


@live_app.command("device")
def device(code: str, streams: list[str] = typer.Argument(..., help="STATION/PARAMETER ...")  # noqa: B008
           ) -> None:
    """Make a device (or give it a new secret) scoped to datastreams; prints its key once."""
    settings = get_settings()
    live = LiveSettings()
    with connect(database_url(settings), autocommit=True) as conn:
        ids = []
        for name in streams:
            station, _, parameter = name.partition("/")
            row = conn.execute("SELECT id FROM live.datastreams WHERE station_code = %s AND "
                               "parameter = %s", (station, parameter)).fetchone()
            if row is None:
                raise typer.BadParameter(f"no datastream {name}: make it with "
                                         "`iocgis live datastream`")
            ids.append(row[0])
        key = create_device(conn, code, ids)
    if not live.mqtt_url:
        broker.set_password(broker.folder(settings, live), code, key.split(":", 1)[1])
        broker.reload(settings, live)
    print(key)


@live_app.command("sweep")
def sweep() -> None:
    """Flag datastreams silent beyond their cadence and incident steps overdue (the consumer
    does it every 10 s)."""
    from iocgis.live.pipeline import Ingestor

    ingestor = Ingestor(database_url())
    raised = ingestor.sweep()
    ingestor.close()
    console.print(f"{len(raised)} alerts raised (silent sensors, overdue steps)")


@live_app.command("partitions")
def partitions(months_ahead: int = typer.Option(3, "--months-ahead", min=0, max=120)) -> None:
    """Make the monthly partitions of iot.observations up to MONTHS_AHEAD from now, and those of
    the months waiting in the default partition (imported rows)."""
    from iocgis.live.store import Partitions

    with connect(database_url(), autocommit=True) as conn:
        made = conn.execute("SELECT iot.ensure_observation_partitions(now(), now() + "
                            "make_interval(months => %s))", (months_ahead,)).fetchone()[0]
        made += Partitions().drain_default(conn)
    console.print(f"{made} partitions made")


@live_app.command("retention")
def retention(dry_run: bool = typer.Option(False, "--dry-run",
                                           help="say what would be dropped, change nothing")
              ) -> None:
    """Roll readings up into hourly and daily aggregates, drop raw partitions and aggregates
    past their retention (live.retention); only new hours and late ones are read."""
    from iocgis.live.retention import apply_retention

    with connect(database_url(), autocommit=True) as conn:
        print(apply_retention(conn, dry_run=dry_run).describe())


def demo_live(duration_s: float = typer.Option(120.0, "--duration", min=1, max=3600,
                                               help="seconds to run"),
              step_s: float = typer.Option(1.0, "--step", min=0.05, max=60,
                                           help="seconds between readings"),
              hours: float = typer.Option(24.0, "--hours", min=1, max=240,
                                          help="simulated hours of tide over the run"),
              api_url: str = typer.Option("http://127.0.0.1:8000", "--url",
                                          help="the running iocgis server")) -> None:
    """Publish a rain event over MQTT and HTTP that crosses alarm level II, then clears."""
    from iocgis.live import simulator

    settings = get_settings()
    live = LiveSettings()
    if not live.mqtt_url:
        broker.start(settings, live)
    sent = simulator.run(settings, live, database_url(settings), api_url,
                         duration_s=duration_s, step_s=step_s, hours_per_run=hours,
                         say=console.print)
    console.print(f"sent {sent['mqtt']} readings over MQTT, {sent['http']} over HTTP")


def register(app: typer.Typer) -> None:
    app.add_typer(live_app, name="live", help="Live data: broker, consumer, devices, sweep.")
