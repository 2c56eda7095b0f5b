"""deploy/: how the scale-out set runs — services started for a local cluster
(``proctorbot cluster-demo``, the cluster test), a TCP balancer, a Procfile and
systemd units for real machines."""
