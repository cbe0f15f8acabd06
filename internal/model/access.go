package model

import "slices"

// Access is what the session's role may do in the current database, and
// who owns and may read what, as the catalog says. mzsync reads it to
// check its privileges before changing anything (the preflight) and to
// compare a schema's declared grants with its versions' privileges.
type Access struct {
	// Role is the session's role (current_role) and RoleID its ID.
	Role   string
	RoleID string
	// Superuser: Materialize checks no privilege of a superuser.
	Superuser bool
	// MemberOf lists the IDs of the roles whose privileges and ownership
	// Role has: itself and every role it is a member of, transitively.
	MemberOf []string
	// RoleNames maps role IDs to names.
	RoleNames map[string]string
	// Database lists the privileges Role holds on the current database
	// ("CREATE", "USAGE"), as has_database_privilege says.
	Database []string
	// Clusters maps a cluster name to the privileges Role holds on it,
	// as has_cluster_privilege says.
	Clusters map[string][]string
	// Connections maps a connection's "schema.name" to the privileges
	// Role holds on it, as has_connection_privilege says.
	Connections map[string][]string
	// Schemas and Objects describe the current database's schemas and
	// items (relations, indexes, sources, connections) by ID.
	Schemas map[string]Grantable
	Objects map[string]Grantable
}

// Grantable is an object's owner and its explicit privileges.
type Grantable struct {
	OwnerID string
	// Privileges maps a grantee role ID ("" for PUBLIC) to the privilege
	// names granted to it (e.g. "SELECT", "USAGE"), from the object's
	// mz_aclitems.
	Privileges map[string][]string
}

// Owns reports whether the role owns an object whose owner is ownerID:
// it is the owner or a member of the owner role (Materialize's ownership
// check), or a superuser.
func (a *Access) Owns(ownerID string) bool {
	return a.Superuser || slices.Contains(a.MemberOf, ownerID)
}

// Holds reports whether the role may use privilege on an object whose
// held privileges (as the has_*_privilege functions report them) are
// held: a superuser always may.
func (a *Access) Holds(held []string, privilege string) bool {
	return a.Superuser || slices.Contains(held, privilege)
}

// HoldsACL reports whether the role holds privilege on an object through
// its explicit privileges: granted to PUBLIC or to a role it is a member
// of, or as a superuser.
func (a *Access) HoldsACL(g Grantable, privilege string) bool {
	if a.Superuser {
		return true
	}
	for grantee, privs := range g.Privileges {
		if (grantee == "" || slices.Contains(a.MemberOf, grantee)) && slices.Contains(privs, privilege) {
			return true
		}
	}
	return false
}

// RoleIDOf returns the ID of the role named name, "" if there is none.
func (a *Access) RoleIDOf(name string) string {
	for id, n := range a.RoleNames {
		if n == name {
			return id
		}
	}
	return ""
}
