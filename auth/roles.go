// Package auth owns who may do what in amigo: users and their roles,
// passwords (argon2id), API tokens for programs, browser sessions with
// CSRF protection, and the HTTP middleware that authenticates every
// request and refuses what a role may not do. There is no default user
// and no default password: the first administrator is made by an explicit
// command.
package auth

import (
	"fmt"
	"slices"
	"strings"
)

// Role is what a user is for.
type Role string

// Roles. An operator runs the network, an engineer configures it, a
// security officer holds the keys and approves critical commands, an
// integrator's program reads, a consumer sees their own usage points
// only, and an administrator manages the users.
const (
	Operator        Role = "operator"
	Engineer        Role = "engineer"
	SecurityOfficer Role = "security-officer"
	Integrator      Role = "integrator"
	Consumer        Role = "consumer"
	Admin           Role = "admin"
)

// Permission is one kind of action.
type Permission string

// Permissions.
const (
	// ReadFleet: the registry, collection status, events, commands.
	ReadFleet Permission = "read-fleet"
	// ReadData: every meter's interval data, registers and exceptions.
	ReadData Permission = "read-data"
	// ReadOwnData: the interval data of one's own usage points.
	ReadOwnData Permission = "read-own-data"
	// Command: issue commands and start collections and reads.
	Command Permission = "command"
	// EditData: edit intervals, run VEE, resolve exceptions.
	EditData Permission = "edit-data"
	// Configure: import meters, change validation and tariffs.
	Configure Permission = "configure"
	// ManageKeys: meter keys and the master key.
	ManageKeys Permission = "manage-keys"
	// Approve: approve critical commands.
	Approve Permission = "approve"
	// ReadAudit: the audit trail.
	ReadAudit Permission = "read-audit"
	// ManageUsers: users, roles and other users' tokens.
	ManageUsers Permission = "manage-users"
	// ReleaseQuarantine: release or discard commands held over the
	// anomaly limits. A security officer's alone: not even an
	// administrator, who may also issue commands, decides on a burst.
	ReleaseQuarantine Permission = "release-quarantine"
)

var grants = map[Role][]Permission{
	Operator:        {ReadFleet, ReadData, Command, EditData},
	Engineer:        {ReadFleet, ReadData, Configure},
	SecurityOfficer: {ReadFleet, ManageKeys, Approve, ReadAudit, ReleaseQuarantine},
	Integrator:      {ReadFleet, ReadData},
	Consumer:        {ReadOwnData},
	Admin:           {ReadFleet, ReadData, Command, EditData, Configure, ManageKeys, Approve, ReadAudit, ManageUsers},
}

// Roles lists the roles.
func Roles() []Role {
	return []Role{Operator, Engineer, SecurityOfficer, Integrator, Consumer, Admin}
}

// Can reports whether the role grants p.
func (r Role) Can(p Permission) bool { return slices.Contains(grants[r], p) }

// Permissions lists what the role grants.
func (r Role) Permissions() []Permission { return slices.Clone(grants[r]) }

// ParseRole reads a role name.
func ParseRole(s string) (Role, error) {
	r := Role(strings.ToLower(strings.TrimSpace(s)))
	if _, ok := grants[r]; ok {
		return r, nil
	}
	names := make([]string, 0, len(grants))
	for _, r := range Roles() {
		names = append(names, string(r))
	}
	return "", fmt.Errorf("unknown role %q (roles: %s)", s, strings.Join(names, ", "))
}
