"""The Deployment controller: `sync.py` dispatches to `rolling.py` or `recreate.py`; `progress.py` writes
status and conditions; `util.py` holds the pure arithmetic (hashing, revisions, maxSurge/maxUnavailable)."""
