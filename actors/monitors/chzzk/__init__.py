"""Chzzk chat through the official Open API: OAuth2 (`auth.py`), the pure
API and payloads (`api.py`), Engine.IO v3 framing (`engineio.py`), the
session socket (`socket.py`) and the monitor (`monitor.py`)."""
