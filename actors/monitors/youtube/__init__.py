"""YouTube live chat through the Data API v3 with an API key: the pure API
(`api.py`), the quota planner (`quota.py`), the state kept across restarts
(`state.py`), the streaming endpoint (`stream.py`) and the monitor
(`monitor.py`)."""
