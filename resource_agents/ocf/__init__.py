"""A small toolkit for OCF resource agents in Python.

Declare an agent's parameters and actions once (`Agent` subclass); the toolkit derives the
meta-data XML, parses and checks OCF_RESKEY_*, dispatches actions, maps failures to exact OCF
exit codes with a one-line exit reason, and logs the way the cluster expects.

Kept light on purpose: importing this package pulls in no third-party module (lxml is imported
only to print meta-data), because a monitor runs every few seconds on every node.
"""
