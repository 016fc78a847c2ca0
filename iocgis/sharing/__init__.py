"""Sharing out (Điều 3.8-3.9): agreements with other agencies, read under the access plan like
any caller (``agreements``, ``narrowing``, ``usage``), and open data (``open_data``, ``dcat``)."""
