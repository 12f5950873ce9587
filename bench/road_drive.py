"""Drive-simulator acceptance figures for the road use case, next to a naive peer in the same run.

Runs :mod:`edge.eval.road_drive_sim` (real pothole photos of our validation split, repeat drives, GNSS noise,
a link outage, the real hub service and a local webhook) and prints: share of physical damages with exactly
one work order, median position error, dispatch latency after passing (and after the link returned).
The peer places each damage at the raw GNSS fix of the frame that saw it closest (no fusion), with the
same detections and tracking: the gap is what the GNSS/geometry fusion buys.
"""

from __future__ import annotations

import sys

from edge.eval.road_drive_sim import main

if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
