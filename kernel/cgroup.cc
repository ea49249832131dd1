// cgroup.cc: cgroup v1/v2 resource limits, freezer, kill-all (placeholder).
