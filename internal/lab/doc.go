// Package lab builds a small network of real hosts on one Linux machine and
// runs raftvip (or keepalived, for comparison) on it: network namespaces
// joined by a bridge, MariaDB in the two database hosts, a client that reads
// through the virtual IP, a monitor that records who held the VIP when, and
// the faults that matter (processes killed or paused, cables pulled, hosts
// isolated from each other).
//
// Everything the lab creates carries its prefix (namespaces "<prefix>-a",
// "<prefix>-sw", …) and teardown removes only those names and signals only
// the processes the lab started. It needs root.
//
// The integration tests in this package replay the failover scenarios; the
// raftvip-lab command uses the same primitives for the demo and the
// benchmark against keepalived.
package lab
