"""The after-stream report: `python -m actors report ARCHIVE.jsonl -o report.html`.

The archive (actors/archive.py) holds every message that reached the
router with its fate, its score, and for the answered ones the turn and
the reply. The report reads it once, a line at a time, into counters of
bounded size (`tally.py`), reads the optional status log the same way
(`logs.py`), then draws the charts (`charts.py`, matplotlib: an optional
extra) and writes one self-contained HTML page (`page.py`) in Korean or
English.

The pipeline is layered as the rest of the house: the reading and
counting import neither Trio nor matplotlib and are pure functions of
the file, so a property test can hold every number the page shows to a
plain count over the archive.
"""
