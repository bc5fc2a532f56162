package lab

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// tools the lab runs, and where Debian puts them when /usr/sbin is not on
// PATH (sudo without secure_path, some CI shells).
var tools = []string{"ip", "bridge", "mariadbd", "mariadb-install-db", "mariadb-admin", "mariadb", "keepalived", "timeout", "ping"}

// toolPath finds a tool on PATH or in the usual sbin directories.
func toolPath(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, dir := range []string{"/usr/sbin", "/sbin", "/usr/bin", "/bin"} {
		p := dir + "/" + name
		if st, err := os.Stat(p); err == nil && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found", name)
}

// CheckPrerequisites fails with a message saying how to install what the lab
// needs when a tool is missing.
func CheckPrerequisites() error {
	var missing []string
	for _, t := range tools {
		if _, err := toolPath(t); err != nil {
			missing = append(missing, t)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("lab: missing %s: run `make deps` (scripts/install-deps.sh installs every program the lab runs)",
			strings.Join(missing, ", "))
	}
	return nil
}

func mustTool(name string) string {
	p, err := toolPath(name)
	if err != nil {
		return name
	}
	return p
}
