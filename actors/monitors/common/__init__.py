"""What every platform's monitor shares: the retry rule (`retry.py`), the
token file (`tokens.py`) and the OAuth `state` guard (`oauth.py`)."""
