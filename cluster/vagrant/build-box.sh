#!/usr/bin/env bash
# Build a vagrant-libvirt box (Debian 12) from Debian's packages, offline-ready for the cluster:
# Pacemaker, Corosync, crmsh, resource-agents, fence-agents and the product's own package
# (scripts/build-deb.sh: the agents, the commands, its private virtualenv /opt/fractal-ha),
# installed by dpkg as on an operator's node.
#
#   build-box.sh OUT_DIR FRACTAL_HA_DEB PUBKEY      -> OUT_DIR/fractal-ha.box
#
# Called by `python -m cluster.vagrant box` (which caches the result by a hash of the inputs).
# Needs root, debootstrap, qemu-system-x86, qemu-utils, fdisk, e2fsprogs.
set -euo pipefail
out=$(realpath "$1"); deb=$(realpath "$2"); pubkey=$(realpath "$3")
MIRROR=${MIRROR:-http://deb.debian.org/debian}
DISK_SIZE_MIB=${DISK_SIZE_MIB:-8192}
work=$out/work
rootfs=$work/rootfs
# Packages of the box (debootstrap resolves their dependencies; recommends are not installed).
# The full kernel, not linux-image-cloud-amd64: the cloud flavour has no 9p, which carries the
# nodes' shared data directory.
PACKAGES=(
  linux-image-amd64 grub-pc initramfs-tools systemd systemd-sysv dbus kmod udev
  openssh-server sudo iproute2 iputils-ping ca-certificates less procps curl e2fsprogs
  pacemaker pacemaker-cli-utils corosync crmsh resource-agents fence-agents
  python3-novaclient python3-keystoneauth1 python3-yaml  # fence_openstack's (Suggests only)
  python3
  socat  # the VMs' relay to the host's cloud (below)
  python3-cffi-backend  # provides the virtual python3-cffi-backend-api-*, which debootstrap cannot resolve
)
t0=$SECONDS
say() { printf '[box %4ds] %s\n' $((SECONDS - t0)) "$*"; }

rm -rf "$work"
mkdir -p "$work"
say "debootstrap bookworm (${#PACKAGES[@]} packages + dependencies)"
# Downloaded .debs are kept beside the cache (a rebuild then downloads nothing).
mkdir -p "$out/../debs"
# Two stages, so that dpkg's per-file fsync can be turned off for the second (installing
# ~400 packages): it is most of debootstrap's time on a busy disk, and the image is made from
# the tree afterwards anyway.
debootstrap --foreign --variant=minbase --cache-dir="$(realpath "$out/../debs")" \
  --include="$(IFS=,; echo "${PACKAGES[*]}")" \
  bookworm "$rootfs" "$MIRROR" >"$work/debootstrap.log" 2>&1 \
  || { tail -20 "$work/debootstrap.log"; exit 1; }
mkdir -p "$rootfs/etc/dpkg/dpkg.cfg.d"
echo force-unsafe-io >"$rootfs/etc/dpkg/dpkg.cfg.d/fha-build-unsafe-io"
say "debootstrap, second stage"
chroot "$rootfs" /debootstrap/debootstrap --second-stage >>"$work/debootstrap.log" 2>&1 \
  || { tail -20 "$work/debootstrap.log"; exit 1; }
rm "$rootfs/etc/dpkg/dpkg.cfg.d/fha-build-unsafe-io"

say "configuring the system"
in_root() { chroot "$rootfs" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
  DEBIAN_FRONTEND=noninteractive "$@"; }
cat >"$rootfs/etc/fstab" <<'EOF'
LABEL=fha-root / ext4 errors=remount-ro 0 1
EOF
echo box >"$rootfs/etc/hostname"
printf '127.0.0.1 localhost\n127.0.1.1 box\n' >"$rootfs/etc/hosts"
# Only the management NIC (eth0) by DHCP; Vagrant writes 50-vagrant-*.network for the others.
cat >"$rootfs/etc/systemd/network/80-mgmt.network" <<'EOF'
[Match]
Name=eth0
[Network]
DHCP=ipv4
EOF
in_root systemctl enable systemd-networkd ssh >/dev/null 2>&1
# Not started before provisioning writes the cluster's configuration (also on first boot, when
# an empty machine-id makes systemd apply presets).
in_root systemctl disable corosync pacemaker >/dev/null 2>&1
# cluster-glue's logd: Pacemaker logs by itself; one daemon less in a slow guest.
in_root systemctl disable logd >/dev/null 2>&1 || true
mkdir -p "$rootfs/etc/systemd/system-preset"
printf 'disable corosync.service\ndisable pacemaker.service\ndisable logd.service\n' \
  >"$rootfs/etc/systemd/system-preset/10-fractal-ha.preset"
# The VMs' way to the host's cloud (fencing through its compute API): socat, one listener per
# endpoint port on the VM's loopback (the URLs of the catalog and clouds.yaml), each relayed to
# the same port at the management network's gateway, where the host relays on to its cloud.
# Provisioning writes the ports and the gateway; without them the unit does not start.
cat >"$rootfs/usr/local/sbin/fha-cloud-relay" <<'EOF'
#!/bin/bash
set -eu
IFS=, read -ra ports <<<"$PORTS"
for port in "${ports[@]}"; do
  socat "TCP-LISTEN:$port,bind=127.0.0.1,reuseaddr,fork" "TCP:$UPSTREAM:$port" &
done
wait -n  # one relay gone: exit, systemd restarts them all
exit 1
EOF
chmod 755 "$rootfs/usr/local/sbin/fha-cloud-relay"
cat >"$rootfs/etc/systemd/system/fractal-cloud-relay.service" <<'EOF'
[Unit]
Description=Relay to the cloud's endpoints on the host (fractal-ha lab)
ConditionPathExists=/etc/fractal-ha/cloud-relay.env
After=network.target
Before=pacemaker.service

[Service]
EnvironmentFile=/etc/fractal-ha/cloud-relay.env
ExecStart=/usr/local/sbin/fha-cloud-relay
Restart=always
RestartSec=1

[Install]
WantedBy=multi-user.target
EOF
mkdir -p "$rootfs/etc/systemd/system/multi-user.target.wants"
ln -sf /etc/systemd/system/fractal-cloud-relay.service \
  "$rootfs/etc/systemd/system/multi-user.target.wants/fractal-cloud-relay.service"
# Periodic jobs cost CPU that software-emulated VMs do not have.
# (e2scrub_reap took 75 s of a guest's first boot.)
for unit in apt-daily.timer apt-daily-upgrade.timer man-db.timer e2scrub_all.timer \
            e2scrub_reap.service fstrim.timer dpkg-db-backup.timer; do
  in_root systemctl mask "$unit" >/dev/null 2>&1 || true
done
# Vagrant's user: insecure key (Vagrant swaps it on first `up`), password-less sudo.
in_root useradd -m -s /bin/bash -G sudo vagrant
echo 'vagrant:vagrant' | in_root chpasswd
install -d -m 700 -o 1000 -g 1000 "$rootfs/home/vagrant/.ssh"
install -m 600 -o 1000 -g 1000 "$pubkey" "$rootfs/home/vagrant/.ssh/authorized_keys"
echo 'vagrant ALL=(ALL) NOPASSWD: ALL' >"$rootfs/etc/sudoers.d/vagrant"
chmod 440 "$rootfs/etc/sudoers.d/vagrant"
echo 'UseDNS no' >"$rootfs/etc/ssh/sshd_config.d/10-vagrant.conf"
# Host keys are made on each VM's first boot, and machine-id is empty: a shared machine-id
# gives every VM the same DHCP DUID, hence the same address.
rm -f "$rootfs"/etc/ssh/ssh_host_*
mkdir -p "$rootfs/etc/systemd/system/ssh.service.d"
# (ExecStartPre= first: Debian's own `sshd -t` would otherwise run first, fail, and stop ssh.)
# ECDSA and Ed25519 only: a 3072-bit RSA host key takes ~40 s to generate in a TCG guest.
printf '%s\n' '#!/bin/sh' 'for t in ecdsa ed25519; do' \
  '  [ -s /etc/ssh/ssh_host_${t}_key ] || ssh-keygen -q -t $t -N "" -f /etc/ssh/ssh_host_${t}_key' \
  'done' >"$rootfs/usr/local/sbin/fha-host-keys"
chmod 755 "$rootfs/usr/local/sbin/fha-host-keys"
printf 'HostKey /etc/ssh/ssh_host_ecdsa_key\nHostKey /etc/ssh/ssh_host_ed25519_key\n' \
  >"$rootfs/etc/ssh/sshd_config.d/05-host-keys.conf"
printf '[Service]\nExecStartPre=\nExecStartPre=/usr/local/sbin/fha-host-keys\nExecStartPre=/usr/sbin/sshd -t\n' \
  >"$rootfs/etc/systemd/system/ssh.service.d/10-host-keys.conf"
: >"$rootfs/etc/machine-id"
rm -f "$rootfs/var/lib/dbus/machine-id"
cat >"$rootfs/etc/default/grub" <<'EOF'
GRUB_DEFAULT=0
GRUB_TIMEOUT=0
GRUB_DISTRIBUTOR=Debian
GRUB_CMDLINE_LINUX_DEFAULT=""
GRUB_CMDLINE_LINUX="net.ifnames=0 biosdevname=0 console=tty0 console=ttyS0,115200 quiet mitigations=off"
GRUB_TERMINAL="console serial"
EOF

cp "$deb" "$rootfs/tmp/fractal-ha.deb"
mount -t proc proc "$rootfs/proc"
trap 'umount "$rootfs/proc" 2>/dev/null || true' EXIT
say "a kernel for a VM (modules, initramfs)"
# A guest kernel boots in ~40 s under TCG, much of it unpacking an initramfs with every
# storage and network driver (36 MB): the VMs need virtio and ext4, nothing more, at boot.
# Hardware the VMs do not have loses its modules too: ~1/4 of the box, copied and uploaded
# on every cold build.
kver=$(basename "$(ls -d "$rootfs"/lib/modules/*)")
mods=$rootfs/lib/modules/$kver/kernel
rm -rf "$mods"/sound "$mods"/drivers/{gpu,media,infiniband,staging,usb,bluetooth,iio,isdn} \
  "$mods"/drivers/{mtd,nfc,thunderbolt,hwmon} "$mods"/drivers/net/{wireless,ethernet,usb} \
  "$mods"/net/{wireless,mac80211,bluetooth,nfc} \
  "$mods"/fs/{xfs,btrfs,ocfs2,gfs2,nfs,nfsd,smb,ceph,f2fs,jfs,reiserfs,ntfs3,nilfs2,ubifs}
in_root depmod "$kver"
echo MODULES=list >"$rootfs/etc/initramfs-tools/conf.d/fha-vm"
printf '%s\n' virtio_pci virtio_blk ext4 crc32c_generic >>"$rootfs/etc/initramfs-tools/modules"
in_root update-initramfs -u -k "$kver" >/dev/null

say "the product: dpkg -i $(basename "$deb")"
# Its Depends (python3, pacemaker, corosync, resource-agents, ...) are in the box already.
in_root dpkg -i /tmp/fractal-ha.deb >"$work/dpkg.log" 2>&1 || { tail -20 "$work/dpkg.log"; exit 1; }
umount "$rootfs/proc"
trap - EXIT
rm -f "$rootfs/tmp/fractal-ha.deb"
in_root apt-get clean
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* \
  "$rootfs"/var/cache/debconf/*-old "$rootfs"/root/.cache

# GRUB is installed by booting the image once (losetup -P makes no partition devices here).
cat >"$rootfs/usr/local/sbin/fha-install-grub" <<'EOF'
#!/bin/sh
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev 2>/dev/null
mount -o remount,rw /
if grub-install --target=i386-pc /dev/vda && update-grub; then echo FHA-GRUB-OK; fi
rm -f /usr/local/sbin/fha-install-grub
sync; mount -o remount,ro /
echo o >/proc/sysrq-trigger
sleep 60  # the power-off is asynchronous: init must not exit first (a panic, then a hang)
EOF
chmod 755 "$rootfs/usr/local/sbin/fha-install-grub"

say "file system image ($(du -sm "$rootfs" | cut -f1) MiB of files)"
disk=$work/disk.raw
truncate -s "${DISK_SIZE_MIB}M" "$disk"
# ext4 straight into the image at the partition's offset, filled from the tree (-d).
mkfs.ext4 -q -F -L fha-root -E offset=1048576,nodiscard -d "$rootfs" "$disk" \
  "$((DISK_SIZE_MIB - 1))M"
echo 'start=2048, type=83, bootable' | sfdisk -q --no-reread --no-tell-kernel "$disk"

say "installing GRUB (one software-emulated boot)"
kernel=$(ls "$rootfs"/boot/vmlinuz-* | tail -1)
initrd=$(ls "$rootfs"/boot/initrd.img-* | tail -1)
timeout 600 qemu-system-x86_64 -machine pc,accel=tcg -m 1024 -smp 1 -display none \
  -vga std -no-reboot -drive "file=$disk,format=raw,if=virtio" -net none \
  -kernel "$kernel" -initrd "$initrd" \
  -append "root=LABEL=fha-root ro console=ttyS0 panic=-1 init=/usr/local/sbin/fha-install-grub" \
  -serial "file:$work/grub-boot.log"
grep -q FHA-GRUB-OK "$work/grub-boot.log" || { tail -30 "$work/grub-boot.log"; exit 1; }

say "qcow2 and box"
qemu-img convert -O qcow2 "$disk" "$work/box.img"
size_gb=$(( (DISK_SIZE_MIB + 1023) / 1024 ))
printf '{"provider": "libvirt", "format": "qcow2", "virtual_size": %d}\n' "$size_gb" \
  >"$work/metadata.json"
cat >"$work/Vagrantfile" <<'EOF'
Vagrant.configure("2") do |config|
  config.vm.provider :libvirt do |lv|
    lv.driver = "kvm"
  end
end
EOF
tar -C "$work" -cf "$out/fractal-ha.box.tmp" metadata.json Vagrantfile box.img
mv "$out/fractal-ha.box.tmp" "$out/fractal-ha.box"
rm -rf "$work"
say "done: $out/fractal-ha.box ($(du -m "$out/fractal-ha.box" | cut -f1) MiB)"
