"""Settings kept in etcd, for the API and the workers, applied while they run.

keys.py maps etcd keys to the TOML file's names (validated by config.Settings, the one set of
rules); etcd.py talks to etcd's JSON gateway; cache.py keeps the last good values on disk;
live.py decides what a change does to a running process; source.py keeps it all in step.
"""
