"""Fault injection: a reverse proxy in front of every endpoint (latency, 5xx at a rate, outage
windows), driven over a small admin API; and forced token revocation."""
