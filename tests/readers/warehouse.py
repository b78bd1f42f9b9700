"""What the reader scripts beside this file share about a warehouse's layout."""

import os

# Run-log tables differ between two runs by their run ids and times.
RUN_LOG = {"runs", "data_quality", "quarantine"}


def tables(warehouse):
    """The warehouse's tables: its folders not starting with `.` or `_`."""
    return sorted(
        name
        for name in os.listdir(warehouse)
        if not name.startswith((".", "_")) and os.path.isdir(os.path.join(warehouse, name))
    )
