"""What an operator sees of the running system: JSON logs with one request id through
web, worker and upstream calls (logs.py), Prometheus metrics at /metrics (metrics.py)
and error reports to Sentry with the key and photos scrubbed (errors.py)."""
