"""What every platform's monitor shares: the retry rule (`retry.py`)."""
