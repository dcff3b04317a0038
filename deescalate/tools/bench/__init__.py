"""`make bench`: latency, throughput, training time and memory on one machine (see run.py)."""
