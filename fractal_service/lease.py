"""The job lease: how long a claimed job stays its worker's without a heartbeat.

The one place for its default and bounds. They reach the API's setting and its request check,
the OpenAPI document, `fractal-worker --lease-seconds` and the api and worker agents'
`lease_seconds` parameter. No imports: the agents read it on every monitor's hot path.
"""

# Long enough that a heartbeat every third of it survives a store's hiccup; short enough that
# a crashed worker's job is rendered elsewhere within half a minute.
DEFAULT_SECONDS = 30
# 1 s lets a test watch a lease run out; an hour is longer than any single render.
MIN_SECONDS = 1
MAX_SECONDS = 3600
# A lease token a claimer chooses itself (to retry a claim whose answer was lost): it rides in
# X-Lease-Token and in Object Storage's content types, so header-safe characters only; 16 at
# least, so that no two claimers pick the same.
TOKEN_PATTERN = r"[A-Za-z0-9_-]{16,128}"
