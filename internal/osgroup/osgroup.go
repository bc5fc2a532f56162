// Package osgroup resolves the admin socket's group.
//
// The agent is built without cgo (a static binary: libc's pages no longer
// count in its resident memory, docs/bench/idle-cost.md), so os/user reads
// /etc/group itself and does not ask NSS: a group that only a directory
// service (LDAP, sssd) knows is not found by name. A numeric gid is
// therefore accepted as well.
package osgroup

import (
	"fmt"
	"os/user"
	"strconv"
)

// GID is the gid of the group called name in /etc/group, or name itself
// when it is a number.
func GID(name string) (int, error) {
	g, err := user.LookupGroup(name)
	if err == nil {
		gid, err := strconv.Atoi(g.Gid)
		if err != nil {
			return -1, fmt.Errorf("group %q: gid %q is not a number", name, g.Gid)
		}
		return gid, nil
	}
	if gid, nerr := strconv.Atoi(name); nerr == nil && gid >= 0 {
		return gid, nil
	}
	return -1, fmt.Errorf("no group %q in /etc/group (create it, e.g. groupadd %s, fix the name, or give a numeric gid for a group from a directory service)", name, name)
}
