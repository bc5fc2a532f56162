# raftvip configuration for the witness: it votes in Raft so that either db
# node can fail, but never holds the VIP and has no database (so no mysql
# block). Everything not shown takes its default.

node_id  = "witness"
role     = "witness"
data_dir = "/var/lib/raftvip/witness"
bind     = "10.99.0.13:7400"

# No authentication on the cluster port: for tests only (see example-db.hcl).
insecure_plaintext = true

peer "hosta" {
  address = "10.99.0.11:7400"
  role    = "db"
}
peer "hostb" {
  address = "10.99.0.12:7400"
  role    = "db"
}
peer "witness" {
  address = "10.99.0.13:7400"
  role    = "witness"
}
