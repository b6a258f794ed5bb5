"""The lab's OpenStack on this host's loopback.

Real Keystone, Neutron and Swift (pinned, from PyPI, in a virtualenv of their own), and the
pieces they lack, written here: a Nova subset for fencing, a floating-IP data plane in a router
namespace, and fault-injecting proxies in front of every endpoint.
"""
