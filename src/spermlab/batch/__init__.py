"""Many samples: a resumable batch with a ledger and an embedded DuckDB results store.

:func:`run_batch` runs :func:`spermlab.run.analyze_source` on every sample, in a local process
pool or on a Dask cluster, writes each sample's results folder atomically under
``OUT/samples/<sample id>/``, and records every sample's state in ``OUT/ledger.json`` and its
numbers in ``OUT/spermlab.duckdb`` (written by the coordinating process only).
"""

from spermlab.batch.inputs import Sample, collect_samples
from spermlab.batch.ledger import Ledger, input_hash
from spermlab.batch.runner import BatchResult, run_batch
from spermlab.batch.store import STORE, query, update_store

__all__ = ["STORE", "BatchResult", "Ledger", "Sample", "collect_samples", "input_hash", "query",
           "run_batch", "update_store"]
