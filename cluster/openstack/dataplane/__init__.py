"""Our "L3 agent": a router network namespace where packets sent to a floating IP are DNATed
to the fixed IP of the port it is associated with, following Neutron's floating IPs."""
