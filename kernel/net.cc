// net.cc: veth pairs and addresses over rtnetlink (placeholder).
