"""Compute (a Nova v2.1 subset): the lab's nodes as servers that can be stopped, started and
rebooted through hooks the lab provides — enough for fence_openstack and openstacksdk."""
