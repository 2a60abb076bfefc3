"""find_duplicates_dask on a LocalCluster against find_duplicates, on seeded synthetic leads.

    PYTHONPATH=src python benchmarks/bench_dedupe_dask.py --size 10000 --workers 2 --partitions 4

Prints both times and checks the groups are equal. On a small machine the cluster is
slower than one process (serialisation, the shuffle): it is for tables that do not fit
one process, not for speed at 10,000 records.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from synthetic_leads import generate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--partitions", type=int, default=4)
    args = parser.parse_args()

    import dask.bag as db
    from dask.distributed import Client, LocalCluster

    from leadmodel import STANDARD_LEAD_RULE, find_duplicates
    from leadmodel.distributed import find_duplicates_dask

    leads, _ = generate(args.size)
    start = time.perf_counter()
    single = find_duplicates(leads, STANDARD_LEAD_RULE)
    single_s = time.perf_counter() - start
    with (
        LocalCluster(
            n_workers=args.workers, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        bag = db.from_sequence(leads, npartitions=args.partitions)
        start = time.perf_counter()
        spread = find_duplicates_dask(bag, STANDARD_LEAD_RULE, client=client)
        dask_s = time.perf_counter() - start
    print(f"{args.size:,} leads, {len(single):,} groups")
    print(f"  find_duplicates       {single_s:6.2f} s")
    print(
        f"  find_duplicates_dask  {dask_s:6.2f} s  "
        f"({args.workers} workers, {args.partitions} partitions)"
    )
    print(f"  equal groups and edges: {spread == single}")


if __name__ == "__main__":
    main()
