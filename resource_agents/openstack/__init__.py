"""What the floating-IP agent needs from OpenStack: a cached session and two Neutron calls."""
