"""A real Pacemaker/Corosync cluster on one Linux host, one network namespace per node."""
