"""The lab's OpenStack: real Keystone and Neutron (pinned, from PyPI, in their own virtualenv),
served on loopback by PID-managed WSGI servers, with the Fractal cluster's topology."""
