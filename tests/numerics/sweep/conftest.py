"""One real 2-worker Dask LocalCluster (processes) shared by the sweep tests of this session."""

from __future__ import annotations

import logging

import pytest


@pytest.fixture(scope="session")
def cluster_client():
    """A ``distributed.Client`` on a LocalCluster of 2 single-threaded worker processes."""
    from distributed import Client, LocalCluster

    cluster = LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        scheduler_kwargs={"dashboard": False, "dashboard_address": "127.0.0.1:0"},
        silence_logs=logging.ERROR,
        env={"NUMBA_NUM_THREADS": "1"},
    )
    client = Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()
