package observed

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/mzsync/mzsync/internal/model"
)

// The access queries. What the session's role holds on the database, the
// clusters and the connections is asked of Materialize's privilege
// functions (has_database_privilege, has_cluster_privilege,
// has_connection_privilege: grants to PUBLIC and to roles it is a member
// of count; superusers are not special there, mz_is_superuser() says
// that). Owners and explicit privileges of schemas and items come from
// the catalog's owner_id and privileges (mz_aclitem[], read as text)
// columns. No query binds a parameter.
const (
	qAccessRole = `SELECT current_role::text, mz_is_superuser()`

	qAccessRoles = `SELECT id, name FROM mz_catalog.mz_roles`

	qAccessMembers = `SELECT role_id, member FROM mz_catalog.mz_role_members`

	qAccessDatabase = `SELECT has_database_privilege(current_role, current_database(), 'CREATE'),
       has_database_privilege(current_role, current_database(), 'USAGE')`

	qAccessClusters = `SELECT name, has_cluster_privilege(current_role, name, 'CREATE'),
       has_cluster_privilege(current_role, name, 'USAGE')
  FROM mz_catalog.mz_clusters`

	qAccessConnections = `SELECT s.name, cn.name, has_connection_privilege(current_role, cn.oid, 'USAGE')
  FROM mz_catalog.mz_connections cn
  JOIN mz_catalog.mz_schemas s ON s.id = cn.schema_id
  JOIN mz_catalog.mz_databases d ON d.id = s.database_id
 WHERE d.name = current_database()`

	qAccessSchemas = `SELECT s.id, s.owner_id, s.privileges::text
  FROM mz_catalog.mz_schemas s
  JOIN mz_catalog.mz_databases d ON d.id = s.database_id
 WHERE d.name = current_database()`

	qAccessObjects = `SELECT o.id, o.owner_id, COALESCE(o.privileges::text, '{}')
  FROM mz_catalog.mz_objects o
  JOIN mz_catalog.mz_schemas s ON s.id = o.schema_id
  JOIN mz_catalog.mz_databases d ON d.id = s.database_id
 WHERE d.name = current_database()`
)

// ReadAccess reads what the session's role may do and the owners and
// explicit privileges of the current database's schemas and items, in one
// batch.
func ReadAccess(ctx context.Context, q Querier) (*model.Access, error) {
	a := &model.Access{
		RoleNames:   map[string]string{},
		Clusters:    map[string][]string{},
		Connections: map[string][]string{},
		Schemas:     map[string]model.Grantable{},
		Objects:     map[string]model.Grantable{},
	}
	members := map[string][]string{} // member -> roles it is a member of
	held := func(pairs ...any) []string {
		var out []string
		for i := 0; i < len(pairs); i += 2 {
			if b := pairs[i+1].(pgtype.Bool); b.Valid && b.Bool {
				out = append(out, pairs[i].(string))
			}
		}
		return out
	}
	grantable := func(r pgx.Rows, into map[string]model.Grantable) error {
		var id, owner, acl string
		if err := r.Scan(&id, &owner, &acl); err != nil {
			return err
		}
		privs, err := ParseACL(acl)
		if err != nil {
			return fmt.Errorf("privileges of %s: %w", id, err)
		}
		into[id] = model.Grantable{OwnerID: owner, Privileges: privs}
		return nil
	}
	steps := []struct {
		what string
		sql  string
		scan func(pgx.Rows) error
	}{
		{"current role", qAccessRole, func(r pgx.Rows) error {
			var super pgtype.Bool
			if err := r.Scan(&a.Role, &super); err != nil {
				return err
			}
			a.Superuser = super.Valid && super.Bool
			return nil
		}},
		{"roles", qAccessRoles, func(r pgx.Rows) error {
			var id, name string
			if err := r.Scan(&id, &name); err != nil {
				return err
			}
			a.RoleNames[id] = name
			return nil
		}},
		{"role members", qAccessMembers, func(r pgx.Rows) error {
			var role, member string
			if err := r.Scan(&role, &member); err != nil {
				return err
			}
			members[member] = append(members[member], role)
			return nil
		}},
		{"database privileges", qAccessDatabase, func(r pgx.Rows) error {
			var c, u pgtype.Bool
			if err := r.Scan(&c, &u); err != nil {
				return err
			}
			a.Database = held("CREATE", c, "USAGE", u)
			return nil
		}},
		{"cluster privileges", qAccessClusters, func(r pgx.Rows) error {
			var name string
			var c, u pgtype.Bool
			if err := r.Scan(&name, &c, &u); err != nil {
				return err
			}
			a.Clusters[name] = held("CREATE", c, "USAGE", u)
			return nil
		}},
		{"connection privileges", qAccessConnections, func(r pgx.Rows) error {
			var schema, name string
			var u pgtype.Bool
			if err := r.Scan(&schema, &name, &u); err != nil {
				return err
			}
			a.Connections[schema+"."+name] = held("USAGE", u)
			return nil
		}},
		{"schema owners and privileges", qAccessSchemas, func(r pgx.Rows) error { return grantable(r, a.Schemas) }},
		{"object owners and privileges", qAccessObjects, func(r pgx.Rows) error { return grantable(r, a.Objects) }},
	}
	b := &pgx.Batch{}
	for _, s := range steps {
		b.Queue(s.sql)
	}
	br := q.SendBatch(ctx, b)
	for _, s := range steps {
		if err := scanAll(br, s.scan); err != nil {
			br.Close()
			return nil, fmt.Errorf("read access %s: %w", s.what, err)
		}
	}
	if err := br.Close(); err != nil {
		return nil, fmt.Errorf("read access: %w", err)
	}
	a.RoleID = a.RoleIDOf(a.Role)
	// The role and every role it is a member of, transitively.
	if a.RoleID != "" {
		a.MemberOf = []string{a.RoleID}
		for i := 0; i < len(a.MemberOf); i++ {
			for _, r := range members[a.MemberOf[i]] {
				if !slices.Contains(a.MemberOf, r) {
					a.MemberOf = append(a.MemberOf, r)
				}
			}
		}
	}
	return a, nil
}

var aclLetters = map[byte]string{
	'a': "INSERT", 'r': "SELECT", 'w': "UPDATE", 'd': "DELETE", 'U': "USAGE", 'C': "CREATE",
	'R': "CREATEROLE", 'B': "CREATEDB", 'N': "CREATECLUSTER", 'P': "CREATENETWORKPOLICY",
}

// ParseACL parses an mz_aclitem[] in text form, {grantee=letters/grantor,
// ...} with role IDs (an empty grantee is PUBLIC), into the privilege
// names granted to each grantee.
func ParseACL(s string) (map[string][]string, error) {
	out := map[string][]string{}
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, "{") || !strings.HasSuffix(s, "}") {
		return nil, fmt.Errorf("not an array: %q", s)
	}
	s = s[1 : len(s)-1]
	if s == "" {
		return out, nil
	}
	for _, item := range strings.Split(s, ",") {
		item = strings.Trim(item, `"`)
		grantee, rest, ok := strings.Cut(item, "=")
		if !ok {
			return nil, fmt.Errorf("not an mz_aclitem: %q", item)
		}
		letters, _, ok := strings.Cut(rest, "/")
		if !ok {
			return nil, fmt.Errorf("not an mz_aclitem: %q", item)
		}
		for i := 0; i < len(letters); i++ {
			name, ok := aclLetters[letters[i]]
			if !ok {
				return nil, fmt.Errorf("unknown privilege %q in %q", letters[i], item)
			}
			if !slices.Contains(out[grantee], name) {
				out[grantee] = append(out[grantee], name)
			}
		}
	}
	for g := range out {
		slices.Sort(out[g])
	}
	return out, nil
}
