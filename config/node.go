package config

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"time"
)

// Node names this process among the nodes of one deployment and says which
// of amigo's roles it runs. Every node of a cluster shares one store and
// one bus; a name must be unique among them, since leases and metrics go
// by it.
//
//	node:
//	  name: he-1                     # AMIGO_NODE; default: the host name
//	  roles: [headend, mdm, api]     # AMIGO_ROLES (comma-separated); default: all three
//	  lease_ttl: 15s                 # how long a dead head-end's meters stay unread
type Node struct {
	Name  string   `yaml:"name"`
	Roles []string `yaml:"roles"`
	// LeaseTTL is how long a head-end node's shares of the fleet outlive
	// it: the others take its meters over within it.
	LeaseTTL time.Duration `yaml:"lease_ttl"`
}

// The roles a node may run.
const (
	RoleHeadEnd = "headend" // collection, commands, pushes, campaigns, demand response, outages
	RoleMDM     = "mdm"     // ingest, VEE, versioned days
	RoleAPI     = "api"     // the REST API, the console and the portal
)

// Roles are every role, in the order they are documented.
var Roles = []string{RoleHeadEnd, RoleMDM, RoleAPI}

func init() {
	Env["AMIGO_NODE"] = "this node's name, unique in the cluster (default: the host name)"
	Env["AMIGO_ROLES"] = "roles this node runs: headend,mdm,api (default: all three)"
}

// DefaultNode runs every role under the host's name.
func DefaultNode() Node {
	host, _ := os.Hostname()
	if host == "" {
		host = "amigo"
	}
	return Node{Name: host, Roles: slices.Clone(Roles), LeaseTTL: 15 * time.Second}
}

// Has reports whether the node runs role.
func (n Node) Has(role string) bool { return slices.Contains(n.Roles, role) }

// ParseRoles reads a comma-separated list of roles.
func ParseRoles(s string) ([]string, error) {
	var out []string
	for _, r := range strings.Split(s, ",") {
		r = strings.ToLower(strings.TrimSpace(r))
		if r == "" {
			continue
		}
		if !slices.Contains(Roles, r) {
			return nil, fmt.Errorf("role %q: want %s", r, strings.Join(Roles, ", "))
		}
		if !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("roles %q: name at least one of %s", s, strings.Join(Roles, ", "))
	}
	return out, nil
}

func (n *Node) applyEnv(lookup func(string) (string, bool)) error {
	if v, _ := lookup("AMIGO_NODE"); v != "" {
		n.Name = v
	}
	if v, _ := lookup("AMIGO_ROLES"); v != "" {
		r, err := ParseRoles(v)
		if err != nil {
			return fmt.Errorf("AMIGO_ROLES: %w", err)
		}
		n.Roles = r
	}
	return nil
}

func (n Node) validate() error {
	if n.Name == "" || strings.ContainsAny(n.Name, " \t\n*>.") {
		return fmt.Errorf("node name %q: want a non-empty name without spaces, dots, '*' or '>'", n.Name)
	}
	if _, err := ParseRoles(strings.Join(n.Roles, ",")); err != nil {
		return fmt.Errorf("node: %w", err)
	}
	if n.LeaseTTL < time.Second || n.LeaseTTL > 10*time.Minute {
		return fmt.Errorf("node.lease_ttl %s: want 1s to 10m", n.LeaseTTL)
	}
	return nil
}
