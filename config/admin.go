package config

import (
	"errors"
	"github.com/raftvip/raftvip/internal/osgroup"
	"io/fs"
	"os"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
)

// AdminSocket returns the admin socket a config file names (admin, else the
// default for its node_id) and checks nothing else. The CLI needs only this,
// and the rest of the file may name what the operator's user cannot read
// and need not: the agent's dsn_file (mode 0600) holds the MySQL password.
func AdminSocket(path string) (string, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return "", &Errors{List: []Error{{File: path, Msg: "cannot read config file: " + err.Error()}}}
	}
	c := &collector{file: path, src: src}
	file, ds := hclparse.NewParser().ParseHCL(src, path)
	if ds.HasErrors() {
		c.diags(ds)
		return "", c.result()
	}
	content, _, _ := file.Body.PartialContent(&hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "admin"}, {Name: "node_id"}}})
	if s, st := c.nonEmptyStr(content.Attributes["admin"], "admin"); st == valid {
		return s, nil
	}
	if id, st := c.nonEmptyStr(content.Attributes["node_id"], "node_id"); st == valid {
		return DefaultAdmin(id), nil
	}
	if errs := c.result(); errs != nil {
		return "", errs
	}
	return "", &Errors{List: []Error{{File: path, Line: 1, Column: 1,
		Msg: "neither admin nor node_id is set, so the admin socket is unknown"}}}
}

// buildAdminGroup checks admin_group: a group that exists on this host (the
// agent gives it the socket, so a typo must not leave it to another group
// or fail only at start).
func buildAdminGroup(c *collector, a *hcl.Attribute) string {
	name, st := c.nonEmptyStr(a, "admin_group")
	if st != valid {
		return ""
	}
	if _, err := GroupID(name); err != nil {
		c.at(a.Range, "admin_group: %v", err)
	}
	return name
}

// GroupID is the gid of the group called name, or name as a number
// (internal/osgroup says why both).
func GroupID(name string) (int, error) { return osgroup.GID(name) }
