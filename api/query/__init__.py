"""Spatial queries for the operating scenarios: by point, region, radius and administrative unit,
grouped totals, indicator warnings, raster sampling and named scenario presets.

Data flow: ``params`` (request -> checked values) -> ``spec`` (what to ask of each layer)
-> ``sql`` (one statement per layer, names from the registry only) -> ``engine`` (runs them)
-> ``render`` (JSON, CSV, GeoJSON). ``presets`` load the scenario files of
``layers/scenarios/``; ``scenarios`` turns a preset and its parameters into the same specs.
"""
