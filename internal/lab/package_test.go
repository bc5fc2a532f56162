package lab

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
)

// debScript runs inside a private mount namespace: /usr, /etc and /var get
// an overlay whose upper layer is a tmpfs, so dpkg -i, the postinst's
// adduser and dpkg's database change only that copy, which vanishes with
// the namespace. It prints one "what path state" line per fact; the test
// judges them.
const debScript = `set -eu
mount -t tmpfs -o mode=0700 raftvip-deb-test "$WORK"
for d in usr etc var; do
	mkdir "$WORK/$d.up" "$WORK/$d.work"
	mount -t overlay overlay -o "lowerdir=/$d,upperdir=$WORK/$d.up,workdir=$WORK/$d.work" "/$d"
done
files="/usr/bin/raftvip /lib/systemd/system/raftvip.service /etc/raftvip/raftvip.hcl /usr/share/doc/raftvip/README.md /usr/share/doc/raftvip/examples/example-witness.hcl"
list() {
	for f in $files /etc/raftvip; do
		if [ -e "$f" ]; then echo "$1 $f present $(stat -c %U:%G:%a "$f")"; else echo "$1 $f absent"; fi
	done
}
list before
dpkg -i "$DEB" >"$WORK/dpkg-i.log" 2>&1 || { cat "$WORK/dpkg-i.log"; exit 1; }
list installed
echo "installed status - $(dpkg-query -W -f='${Status}' raftvip)"
echo "installed version - $(/usr/bin/raftvip version)"
echo "installed user - $(getent passwd raftvip | cut -d: -f1,6,7)"
# The unit's User= reads the shipped config: validate as raftvip, with no
# capability at all.
out=$(setpriv --reuid raftvip --regid raftvip --clear-groups --inh-caps=-all --bounding-set=-all \
	/usr/bin/raftvip validate -config /etc/raftvip/raftvip.hcl 2>&1) && echo "installed validate-as-raftvip - $(echo $out)" ||
	echo "installed validate-as-raftvip - FAILED: $(echo $out)"
dpkg -r raftvip >"$WORK/dpkg-r.log" 2>&1 || { cat "$WORK/dpkg-r.log"; exit 1; }
list removed
echo "removed status - $(dpkg-query -W -f='${Status}' raftvip 2>&1)"
dpkg -P raftvip >"$WORK/dpkg-p.log" 2>&1 || { cat "$WORK/dpkg-p.log"; exit 1; }
list purged
echo "purged status - $(dpkg-query -W -f='${Status}' raftvip 2>&1 || true)"
echo "purged statoverride - $(dpkg-statoverride --list | grep raftvip || echo none)"
`

// make deb builds a package that dpkg -i installs (binary that runs, unit,
// docs, config as a conffile owned by the unit's user), dpkg -r removes
// (config kept) and dpkg -P purges. dpkg runs for real, but in a private
// mount namespace over a throwaway copy of /usr, /etc and /var: the
// machine is left as it was.
func TestDebInstallsAndRemovesCleanly(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: dpkg -i runs in a private mount namespace (run `make test` as root)")
	}
	// It builds its own binary, but runs with the lab suite only (make
	// test's second step), not again in the go test ./... before it.
	if os.Getenv("RAFTVIP_BIN") == "" {
		t.Skip("lab integration tests need RAFTVIP_BIN=/path/to/raftvip (make test sets it)")
	}
	for _, tool := range []string{"make", "dpkg-deb", "dpkg", "adduser", "setpriv"} {
		mustTool(tool)
	}
	repo, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	out, bin := t.TempDir(), t.TempDir()
	// BIN elsewhere: the suite's RAFTVIP_BIN (bin/raftvip) stays as it was.
	mk := exec.Command("make", "-C", repo, "--no-print-directory", "deb", "BIN="+bin, "DEBOUT="+out, "DEB_COMPRESS=gzip")
	b, err := mk.CombinedOutput()
	if err != nil {
		t.Fatalf("make deb: %v\n%s", err, b)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	deb := lines[len(lines)-1]
	if filepath.Dir(deb) != out || !strings.HasPrefix(filepath.Base(deb), "raftvip_") || !strings.HasSuffix(deb, "_"+debArch()+".deb") {
		t.Fatalf("make deb made %q, want %s/raftvip_VERSION_%s.deb\n%s", deb, out, debArch(), b)
	}
	fields, err := exec.Command("dpkg-deb", "--field", deb, "Package", "Version", "Depends").CombinedOutput()
	if err != nil {
		t.Fatalf("dpkg-deb --field: %v\n%s", err, fields)
	}
	if !strings.Contains(string(fields), "Package: raftvip") || !strings.Contains(string(fields), "Depends: ") || !strings.Contains(string(fields), "adduser") {
		t.Errorf("control fields:\n%s", fields)
	}
	conffiles, err := exec.Command("dpkg-deb", "--info", deb, "conffiles").CombinedOutput()
	if err != nil || strings.TrimSpace(string(conffiles)) != "/etc/raftvip/raftvip.hcl" {
		t.Errorf("conffiles: %q (%v), want /etc/raftvip/raftvip.hcl", conffiles, err)
	}

	host := hostState(t)
	work := t.TempDir()
	cmd := exec.Command("bash", "-c", debScript)
	cmd.Env = append(os.Environ(), "DEB="+deb, "WORK="+work)
	// Go makes / private (MS_REC|MS_PRIVATE) in the new namespace before
	// the script runs: none of its mounts reach the machine.
	cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS}
	b, err = cmd.CombinedOutput()
	t.Logf("in the namespace:\n%s", b)
	if err != nil {
		t.Fatalf("dpkg in a private mount namespace: %v", err)
	}
	facts := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	for sc.Scan() {
		f := strings.SplitN(sc.Text(), " ", 3)
		if len(f) == 3 {
			facts[f[0]+" "+f[1]] = strings.TrimPrefix(f[2], "- ")
		}
	}
	want := map[string]string{
		"before /usr/bin/raftvip":                                       "absent",
		"installed /usr/bin/raftvip":                                    "present root:root:755",
		"installed /lib/systemd/system/raftvip.service":                 "present root:root:644",
		"installed /etc/raftvip":                                        "present root:raftvip:750",
		"installed /etc/raftvip/raftvip.hcl":                            "present raftvip:raftvip:600",
		"installed /usr/share/doc/raftvip/README.md":                    "present root:root:644",
		"installed /usr/share/doc/raftvip/examples/example-witness.hcl": "present root:root:644",
		"installed status":                                              "install ok installed",
		"installed user":                                                "raftvip:/var/lib/raftvip:/usr/sbin/nologin",
		"installed validate-as-raftvip":                                 "ok: node hosta (db)",
		"removed /usr/bin/raftvip":                                      "absent",
		"removed /lib/systemd/system/raftvip.service":                   "absent",
		"removed /usr/share/doc/raftvip/README.md":                      "absent",
		"removed /etc/raftvip/raftvip.hcl":                              "present raftvip:raftvip:600", // a conffile: kept until purge
		"removed status":                                                "deinstall ok config-files",
		"purged /etc/raftvip/raftvip.hcl":                               "absent",
		"purged /etc/raftvip":                                           "absent",
		"purged statoverride":                                           "none",
	}
	for k, v := range want {
		got := facts[k]
		if k == "installed validate-as-raftvip" {
			if !strings.Contains(got, v) || strings.HasPrefix(got, "FAILED") {
				t.Errorf("%s: %q, want it to say %q", k, got, v)
			}
			continue
		}
		if got != v {
			t.Errorf("%s: %q, want %q", k, got, v)
		}
	}
	if v := facts["installed version"]; !strings.HasPrefix(v, "raftvip ") {
		t.Errorf("installed binary: version %q", v)
	}
	if !strings.Contains(facts["purged status"], "no packages found") {
		t.Errorf("after purge dpkg still knows raftvip: %q", facts["purged status"])
	}
	// The machine itself: as before.
	if after := hostState(t); after != host {
		t.Errorf("the machine changed:\nbefore %s\nafter  %s", host, after)
	}
}

// hostState is what a leaked install would change on this machine.
func hostState(t *testing.T) string {
	t.Helper()
	var parts []string
	for _, p := range []string{"/usr/bin/raftvip", "/lib/systemd/system/raftvip.service", "/etc/raftvip"} {
		_, err := os.Stat(p)
		parts = append(parts, p+"="+map[bool]string{true: "present", false: "absent"}[err == nil])
	}
	q, _ := exec.Command("dpkg-query", "-W", "-f=${Status}", "raftvip").CombinedOutput()
	parts = append(parts, "dpkg="+strings.TrimSpace(string(q)))
	pw, _ := os.ReadFile("/etc/passwd")
	parts = append(parts, "passwd-has-raftvip="+map[bool]string{true: "yes", false: "no"}[strings.Contains(string(pw), "\nraftvip:") || strings.HasPrefix(string(pw), "raftvip:")])
	return strings.Join(parts, " ")
}

// debArch is the Debian name of the architecture the package is built for.
func debArch() string {
	switch runtime.GOARCH {
	case "386":
		return "i386"
	case "arm":
		return "armhf"
	case "ppc64le":
		return "ppc64el"
	}
	return runtime.GOARCH
}
