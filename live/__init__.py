"""Live data: sensors streaming in (MQTT, SensorThings HTTP, batches), alarm levels raising
alerts, freshness of every datastream, push to dashboards, and the emergency loop.

One pipeline (``pipeline.Ingestor``) takes readings from every channel: validate, write once
into the partitioned ``iot.observations``, update the latest readings, evaluate alarms, notify.
"""
