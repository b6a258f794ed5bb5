"""A three-node Pacemaker cluster of Vagrant (vagrant-libvirt) VMs: box, Vagrantfile, driver."""
