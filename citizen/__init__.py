"""Citizen reports (issue #17): intake (Open311 GeoReport v2 and a public form), routing to
the processing unit, a workflow of recorded transitions, deadlines in working days, ratings,
identity protection (encrypted at rest, pseudonyms, generalised public locations) and public
statistics. See README "Citizen reports".
"""
