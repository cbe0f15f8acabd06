package mzemu

import (
	"context"
	"fmt"
	"strings"
)

// aclOrder is the order Materialize prints privilege letters in.
const aclOrder = "arwdUCRBNP"

var privilegeLetter = map[string]byte{
	"INSERT": 'a', "SELECT": 'r', "UPDATE": 'w', "DELETE": 'd', "USAGE": 'U', "CREATE": 'C',
	"CREATEROLE": 'R', "CREATEDB": 'B', "CREATECLUSTER": 'N', "CREATENETWORKPOLICY": 'P',
}

func letterName(c byte) string {
	for k, v := range privilegeLetter {
		if v == c {
			return k
		}
	}
	return string(c)
}

// normACL returns the distinct letters of s in Materialize's order.
func normACL(s string) string {
	var b strings.Builder
	for i := 0; i < len(aclOrder); i++ {
		if strings.IndexByte(s, aclOrder[i]) >= 0 {
			b.WriteByte(aclOrder[i])
		}
	}
	return b.String()
}

// allPrivileges is every privilege an object type has (Materialize's
// all_object_privileges); the owner holds them from creation on.
func allPrivileges(objType string) string {
	switch objType {
	case "table":
		return "arwd"
	case "view", "materialized-view", "source":
		return "r"
	case "secret", "connection", "type":
		return "U"
	case "cluster", "database", "schema":
		return "UC"
	case "system":
		return "RBNP"
	}
	return ""
}

// objectTypeWord is the upper-case object type Materialize puts in
// privilege and ownership errors.
func objectTypeWord(kind string) string { return strings.ToUpper(kindWord(kind)) }

// holds reports whether the session's role (with its memberships and
// PUBLIC) holds the privilege letter on an object. Superusers hold every
// privilege.
func (ss *session) holds(ctx context.Context, kind, id string, letter byte) (bool, error) {
	if ss.superuser {
		return true, nil
	}
	return ss.roleHolds(ctx, ss.roleID, kind, id, letter)
}

func (ss *session) roleHolds(ctx context.Context, roleID, kind, id string, letter byte) (bool, error) {
	set, err := ss.memberships(ctx, roleID)
	if err != nil {
		return false, err
	}
	rows, err := ss.q(ctx, `SELECT COALESCE(string_agg(acl, ''), '') FROM mzemu_meta.privileges
 WHERE kind = $1 AND object_id = $2 AND grantee = ANY ($3)`, kind, id, set)
	if err != nil {
		return false, err
	}
	return strings.IndexByte(rows[0][0], letter) >= 0, nil
}

// checkPrivilege fails with Materialize's "permission denied for ..." when
// the session lacks a privilege; desc is e.g. SCHEMA "materialize.app".
func (ss *session) checkPrivilege(ctx context.Context, kind, id string, letter byte, desc string) error {
	ok, err := ss.holds(ctx, kind, id, letter)
	if err != nil || ok {
		return err
	}
	return errf("42501", "permission denied for %s", desc)
}

// checkOwner fails with Materialize's "must be owner of ..." unless the
// session's role (or a role it is a member of) owns the object.
func (ss *session) checkOwner(ctx context.Context, owner, objType, name string) error {
	if ss.superuser {
		return nil
	}
	set, err := ss.memberships(ctx, ss.roleID)
	if err != nil {
		return err
	}
	if contains(set, owner) {
		return nil
	}
	return errf("42501", "must be owner of %s %s", objType, name)
}

func (x *ddlTx) requireOwner(ctx context.Context, owner, objType, name string) error {
	return x.ss.checkOwner(ctx, owner, objType, name)
}

func (x *ddlTx) requireItemOwner(ctx context.Context, it *item) error {
	return x.ss.checkOwner(ctx, it.owner, objectTypeWord(it.kind), it.fqname)
}

func (x *ddlTx) requireSchemaOwner(ctx context.Context, id, name string) error {
	rows, err := x.q(ctx, `SELECT owner_id FROM mzemu_meta.schemas WHERE id = $1`, id)
	if err != nil || len(rows) == 0 {
		return err
	}
	return x.ss.checkOwner(ctx, rows[0][0], "SCHEMA", "materialize."+name)
}

func (x *ddlTx) requireSystemPrivilege(ctx context.Context, letter string) error {
	return x.ss.checkPrivilege(ctx, "system", "", letter[0], "SYSTEM")
}

func (x *ddlTx) requireDatabasePrivilege(ctx context.Context, letter byte) error {
	return x.ss.checkPrivilege(ctx, "database", "u1", letter, `DATABASE "materialize"`)
}

func (x *ddlTx) requireSchemaPrivilege(ctx context.Context, id, name string, letter byte) error {
	return x.ss.checkPrivilege(ctx, "schema", id, letter, fmt.Sprintf("SCHEMA %q", "materialize."+name))
}

func (x *ddlTx) requireClusterPrivilege(ctx context.Context, id, name string, letter byte) error {
	return x.ss.checkPrivilege(ctx, "cluster", id, letter, fmt.Sprintf("CLUSTER %q", name))
}

// requireUsage checks USAGE on an item (a connection or secret) and its
// schema, as Materialize does for the items a statement uses.
func (x *ddlTx) requireUsage(ctx context.Context, it *item) error {
	if err := x.requireSchemaPrivilege(ctx, it.schemaID, it.schemaName, 'U'); err != nil {
		return err
	}
	return x.ss.checkPrivilege(ctx, "item", it.id, 'U', fmt.Sprintf("%s %q", objectTypeWord(it.kind), it.fqname))
}

// grantACL adds letters to the (object, grantee, grantor) privilege row.
func (x *ddlTx) grantACL(ctx context.Context, kind, id, grantee, grantor, letters string) error {
	if letters == "" {
		return nil
	}
	return x.exec(ctx, `INSERT INTO mzemu_meta.privileges VALUES ($1, $2, $3, $4, $5)
 ON CONFLICT (kind, object_id, grantee, grantor) DO UPDATE SET acl = mzemu_meta.privileges.acl || EXCLUDED.acl`,
		kind, id, grantee, grantor, letters)
}

// revokeACL removes letters from every row of the grantee on the object.
func (x *ddlTx) revokeACL(ctx context.Context, kind, id, grantee, letters string) error {
	rows, err := x.q(ctx, `SELECT grantor, acl FROM mzemu_meta.privileges WHERE kind = $1 AND object_id = $2 AND grantee = $3`, kind, id, grantee)
	if err != nil {
		return err
	}
	for _, r := range rows {
		acl := r[1]
		for i := 0; i < len(letters); i++ {
			acl = strings.ReplaceAll(acl, letters[i:i+1], "")
		}
		if acl == "" {
			err = x.exec(ctx, `DELETE FROM mzemu_meta.privileges WHERE kind = $1 AND object_id = $2 AND grantee = $3 AND grantor = $4`, kind, id, grantee, r[0])
		} else {
			err = x.exec(ctx, `UPDATE mzemu_meta.privileges SET acl = $5 WHERE kind = $1 AND object_id = $2 AND grantee = $3 AND grantor = $4`, kind, id, grantee, r[0], acl)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// normalizeACLs rewrites an object's privilege rows in canonical letter
// order after grants merged them.
func (x *ddlTx) normalizeACLs(ctx context.Context, kind, id string) error {
	rows, err := x.q(ctx, `SELECT grantee, grantor, acl FROM mzemu_meta.privileges WHERE kind = $1 AND object_id = $2`, kind, id)
	if err != nil {
		return err
	}
	for _, r := range rows {
		if n := normACL(r[2]); n != r[2] {
			if err := x.exec(ctx, `UPDATE mzemu_meta.privileges SET acl = $5 WHERE kind = $1 AND object_id = $2 AND grantee = $3 AND grantor = $4`, kind, id, r[0], r[1], n); err != nil {
				return err
			}
		}
	}
	return nil
}

// privTarget is one object a GRANT or REVOKE names.
type privTarget struct {
	objType, kind, id, owner, desc string
	schemaID, schemaName           string
}

// parsePrivileges reads ALL [PRIVILEGES] or a list of privilege names; all
// is "" for ALL.
func parsePrivileges(p *parser) (letters string, all bool, err error) {
	if p.words("all") {
		p.words("privileges")
		return "", true, nil
	}
	for {
		t := p.next()
		if t.kind != tokWord {
			return "", false, errf(codeSyntax, "Expected one of ALL or INSERT or SELECT or UPDATE or DELETE or USAGE or CREATE or CREATEROLE or CREATEDB or CREATECLUSTER or CREATENETWORKPOLICY, found %s", describeTok(t))
		}
		c, ok := privilegeLetter[strings.ToUpper(t.val)]
		if !ok {
			return "", false, errf(codeSyntax, "Expected one of ALL or INSERT or SELECT or UPDATE or DELETE or USAGE or CREATE or CREATEROLE or CREATEDB or CREATECLUSTER or CREATENETWORKPOLICY, found %s", describeTok(t))
		}
		letters += string(c)
		if !p.op(",") {
			return letters, false, nil
		}
	}
}

// parseGrantPrivileges parses GRANT privs ON target TO grantees / REVOKE
// privs ON target FROM grantees (the keyword already consumed).
func parseGrantPrivileges(p *parser, grant bool) (*stmt, error) {
	letters, all, err := parsePrivileges(p)
	if err != nil {
		return nil, err
	}
	if err := p.expect("on"); err != nil {
		return nil, err
	}
	objType := "table"
	system := false
	inSchema := false
	var names [][]string
	switch {
	case p.words("system"):
		system = true
	case p.words("all", "tables", "in", "schema"):
		inSchema = true
	default:
		switch {
		case p.words("table"), p.words("view"), p.words("materialized", "view"), p.words("source"):
		case p.words("secret"):
			objType = "secret"
		case p.words("connection"):
			objType = "connection"
		case p.words("type"):
			objType = "type"
		case p.words("database"):
			objType = "database"
		case p.words("schema"):
			objType = "schema"
		case p.words("cluster"):
			objType = "cluster"
		}
	}
	if !system {
		for {
			n, err := p.objName()
			if err != nil {
				return nil, err
			}
			names = append(names, n)
			if !p.op(",") {
				break
			}
		}
	}
	kw := "to"
	if !grant {
		kw = "from"
	}
	grantees, err := p.roleListEnd(kw)
	if err != nil {
		return nil, err
	}
	tag := "GRANT"
	if !grant {
		tag = "REVOKE"
	}
	return ddlStmt(clsDDLSingle, tag, func(ctx context.Context, x *ddlTx) (string, error) {
		var targets []privTarget
		switch {
		case system:
			targets = []privTarget{{objType: "system", kind: "system", owner: "s1", desc: "SYSTEM"}}
		case inSchema:
			for _, n := range names {
				sid, sname, err := x.ss.resolveSchema(ctx, n)
				if err != nil {
					return "", err
				}
				rows, err := x.q(ctx, `SELECT `+itemCols+` FROM mzemu_meta.items WHERE schema_id = $1
 AND kind IN ('table', 'view', 'materialized-view', 'source') ORDER BY id`, sid)
				if err != nil {
					return "", err
				}
				_ = sname
				for _, r := range rows {
					targets = append(targets, itemTarget(scanItem(r)))
				}
			}
		default:
			for _, n := range names {
				t, err := x.resolveTarget(ctx, objType, n)
				if err != nil {
					return "", err
				}
				targets = append(targets, t)
			}
		}
		var roles []*role
		for _, g := range grantees {
			r, err := x.ss.resolveRole(ctx, g, true)
			if err != nil {
				return "", err
			}
			roles = append(roles, r)
		}
		for _, t := range targets {
			want := letters
			if all {
				want = allPrivileges(t.objType)
			}
			valid := allPrivileges(t.objType)
			var bad []string
			for i := 0; i < len(want); i++ {
				if strings.IndexByte(valid, want[i]) < 0 {
					bad = append(bad, letterName(want[i]))
				}
			}
			if len(bad) > 0 {
				return "", errf(codeInternal, "invalid privilege types %s for %s", strings.Join(bad, ", "), t.desc)
			}
			if t.kind == "system" {
				if !x.ss.superuser {
					return "", errf("42501", "permission denied to GRANT/REVOKE SYSTEM PRIVILEGES").
						withDetail("You must be a superuser to GRANT/REVOKE SYSTEM PRIVILEGES")
				}
			} else {
				if err := x.ss.checkOwner(ctx, t.owner, objectTypeWord(t.objType), strings.Trim(t.desc[strings.IndexByte(t.desc, ' ')+1:], `"`)); err != nil {
					return "", err
				}
				switch {
				case t.kind == "schema":
					if err := x.requireDatabasePrivilege(ctx, 'U'); err != nil {
						return "", err
					}
				case t.kind == "item":
					if err := x.requireSchemaPrivilege(ctx, t.schemaID, t.schemaName, 'U'); err != nil {
						return "", err
					}
				}
			}
			for _, r := range roles {
				if grant {
					if err := x.grantACL(ctx, t.kind, t.id, r.id, t.owner, want); err != nil {
						return "", err
					}
				} else if err := x.revokeACL(ctx, t.kind, t.id, r.id, want); err != nil {
					return "", err
				}
			}
			if err := x.normalizeACLs(ctx, t.kind, t.id); err != nil {
				return "", err
			}
		}
		return tag, nil
	}), nil
}

func itemTarget(it *item) privTarget {
	return privTarget{objType: it.kind, kind: "item", id: it.id, owner: it.owner,
		desc: fmt.Sprintf("%s %q", objectTypeWord(it.kind), it.fqname), schemaID: it.schemaID, schemaName: it.schemaName}
}

// resolveTarget resolves an object named in GRANT, REVOKE or ALTER ...
// OWNER TO.
func (x *ddlTx) resolveTarget(ctx context.Context, objType string, n []string) (privTarget, error) {
	switch objType {
	case "database":
		if len(n) != 1 || n[0] != "materialize" {
			return privTarget{}, errf(codeInternal, "unknown database '%s'", strings.Join(n, "."))
		}
		return privTarget{objType: "database", kind: "database", id: "u1", owner: "u1", desc: `DATABASE "materialize"`}, nil
	case "schema":
		id, name, err := x.ss.resolveSchema(ctx, n)
		if err != nil {
			return privTarget{}, err
		}
		rows, err := x.q(ctx, `SELECT owner_id FROM mzemu_meta.schemas WHERE id = $1`, id)
		if err != nil {
			return privTarget{}, err
		}
		return privTarget{objType: "schema", kind: "schema", id: id, owner: rows[0][0], desc: fmt.Sprintf("SCHEMA %q", "materialize."+name)}, nil
	case "cluster":
		name := n[len(n)-1]
		id, owner, err := x.clusterByName(ctx, name)
		if err != nil {
			return privTarget{}, err
		}
		if id == "" {
			return privTarget{}, errf(codeInternal, "unknown cluster '%s'", name)
		}
		return privTarget{objType: "cluster", kind: "cluster", id: id, owner: owner, desc: fmt.Sprintf("CLUSTER %q", name)}, nil
	}
	it, err := x.ss.resolveItem(ctx, n)
	if err != nil {
		return privTarget{}, err
	}
	switch objType {
	case "table":
		switch it.kind {
		case "table", "view", "materialized-view", "source":
		default:
			return privTarget{}, it.mustBe("table")
		}
	default:
		if err := it.mustBe(objType); err != nil {
			return privTarget{}, err
		}
	}
	return itemTarget(it), nil
}

// parseAlterDefaultPrivileges parses ALTER DEFAULT PRIVILEGES [FOR ROLE r
// [, ...] | FOR ALL ROLES] [IN SCHEMA s [, ...] | IN DATABASE d [, ...]]
// {GRANT privs ON type TO grantees | REVOKE privs ON type FROM grantees}
// (ALTER DEFAULT PRIVILEGES already consumed).
func parseAlterDefaultPrivileges(p *parser) (*stmt, error) {
	var forRoles []string
	allRoles := false
	switch {
	case p.words("for", "all", "roles"):
		allRoles = true
	case p.words("for", "role"), p.words("for", "user"):
		for {
			n, err := p.ident()
			if err != nil {
				return nil, err
			}
			forRoles = append(forRoles, n)
			if !p.op(",") {
				break
			}
		}
	}
	var schemas [][]string
	var databases []string
	switch {
	case p.words("in", "schema"):
		for {
			n, err := p.objName()
			if err != nil {
				return nil, err
			}
			schemas = append(schemas, n)
			if !p.op(",") {
				break
			}
		}
	case p.words("in", "database"):
		for {
			n, err := p.ident()
			if err != nil {
				return nil, err
			}
			databases = append(databases, n)
			if !p.op(",") {
				break
			}
		}
	}
	grant := true
	switch {
	case p.words("grant"):
	case p.words("revoke"):
		grant = false
	default:
		return nil, p.errExpected("one of GRANT or REVOKE")
	}
	letters, all, err := parsePrivileges(p)
	if err != nil {
		return nil, err
	}
	if err := p.expect("on"); err != nil {
		return nil, err
	}
	objType := ""
	for _, w := range []string{"tables", "types", "secrets", "connections", "databases", "schemas", "clusters"} {
		if p.words(w) {
			objType = strings.TrimSuffix(w, "s")
			break
		}
	}
	if objType == "" {
		return nil, p.errExpected("one of TABLES or TYPES or SECRETS or CONNECTIONS or DATABASES or SCHEMAS or CLUSTERS")
	}
	kw := "to"
	if !grant {
		kw = "from"
	}
	if err := p.expect(kw); err != nil {
		return nil, err
	}
	var grantees []string
	for {
		n, err := p.ident()
		if err != nil {
			return nil, err
		}
		grantees = append(grantees, n)
		if !p.op(",") {
			break
		}
	}
	if err := p.expectEnd(); err != nil {
		return nil, err
	}
	if all {
		letters = allPrivileges(objType)
	}
	return ddlStmt(clsDDLSingle, "ALTER DEFAULT PRIVILEGES", func(ctx context.Context, x *ddlTx) (string, error) {
		var roleIDs []string
		switch {
		case allRoles:
			if !x.ss.superuser {
				return "", errf("42501", "permission denied to ALTER DEFAULT PRIVILEGES FOR ALL ROLES").
					withDetail("You must be a superuser to ALTER DEFAULT PRIVILEGES FOR ALL ROLES")
			}
			roleIDs = []string{"p"}
		case forRoles == nil:
			roleIDs = []string{x.ss.roleID}
		default:
			set, err := x.ss.memberships(ctx, x.ss.roleID)
			if err != nil {
				return "", err
			}
			for _, n := range forRoles {
				r, err := x.ss.resolveRole(ctx, n, false)
				if err != nil {
					return "", err
				}
				if !x.ss.superuser && !contains(set, r.id) {
					return "", errf("42501", "must be a member of %q", r.name)
				}
				roleIDs = append(roleIDs, r.id)
			}
		}
		type scope struct{ db, schema any }
		scopes := []scope{{nil, nil}}
		if schemas != nil {
			scopes = nil
			for _, n := range schemas {
				sid, sname, err := x.ss.resolveSchema(ctx, n)
				if err != nil {
					return "", err
				}
				if err := x.requireSchemaPrivilege(ctx, sid, sname, 'U'); err != nil {
					return "", err
				}
				scopes = append(scopes, scope{"u1", sid})
			}
		}
		if databases != nil {
			scopes = nil
			for _, d := range databases {
				if d != "materialize" {
					return "", errf(codeInternal, "unknown database '%s'", d)
				}
				scopes = append(scopes, scope{"u1", nil})
			}
		}
		var granteeIDs []string
		for _, g := range grantees {
			r, err := x.ss.resolveRole(ctx, g, true)
			if err != nil {
				return "", err
			}
			granteeIDs = append(granteeIDs, r.id)
		}
		for _, rid := range roleIDs {
			for _, sc := range scopes {
				for _, gid := range granteeIDs {
					rows, err := x.q(ctx, `SELECT acl FROM mzemu_meta.default_privileges WHERE role_id = $1
 AND database_id IS NOT DISTINCT FROM $2::text AND schema_id IS NOT DISTINCT FROM $3::text AND object_type = $4 AND grantee = $5`,
						rid, sc.db, sc.schema, objType, gid)
					if err != nil {
						return "", err
					}
					cur := ""
					if len(rows) > 0 {
						cur = rows[0][0]
					}
					next := cur + letters
					if !grant {
						next = cur
						for i := 0; i < len(letters); i++ {
							next = strings.ReplaceAll(next, letters[i:i+1], "")
						}
					}
					next = normACL(next)
					if err := x.exec(ctx, `DELETE FROM mzemu_meta.default_privileges WHERE role_id = $1
 AND database_id IS NOT DISTINCT FROM $2::text AND schema_id IS NOT DISTINCT FROM $3::text AND object_type = $4 AND grantee = $5`,
						rid, sc.db, sc.schema, objType, gid); err != nil {
						return "", err
					}
					if next != "" {
						if err := x.exec(ctx, `INSERT INTO mzemu_meta.default_privileges VALUES ($1, $2::text, $3::text, $4, $5, $6)`,
							rid, sc.db, sc.schema, objType, gid, next); err != nil {
							return "", err
						}
					}
				}
			}
		}
		return "ALTER DEFAULT PRIVILEGES", nil
	}), nil
}

// alterOwner is ALTER <kind> [IF EXISTS] name OWNER TO role. Privileges
// the old owner held or granted pass to the new owner, and a relation's
// indexes follow it.
func (x *ddlTx) alterOwner(ctx context.Context, objType string, name []string, newOwner string, ifExists bool) error {
	r, err := x.ss.resolveRole(ctx, newOwner, false)
	if err != nil {
		return err
	}
	var t privTarget
	switch objType {
	case "database", "schema", "cluster":
		t, err = x.resolveTarget(ctx, objType, name)
	default:
		var it *item
		if it, err = x.ss.resolveItem(ctx, name); err == nil {
			if err = it.mustBe(objType); err == nil {
				t = itemTarget(it)
			}
		}
	}
	if err != nil {
		if me, ok := err.(*mzError); ok && ifExists && strings.HasPrefix(me.Message, "unknown ") {
			return nil
		}
		return err
	}
	if t.objType == "index" {
		x.notice(notice("01000", "cannot change the owner of an index"))
		return nil
	}
	if !x.ss.superuser {
		set, err := x.ss.memberships(ctx, x.ss.roleID)
		if err != nil {
			return err
		}
		if !contains(set, r.id) {
			return errf("42501", "must be a member of %q", r.name)
		}
	}
	if err := x.ss.checkOwner(ctx, t.owner, objectTypeWord(t.objType), strings.Trim(t.desc[strings.IndexByte(t.desc, ' ')+1:], `"`)); err != nil {
		return err
	}
	switch t.kind {
	case "schema":
		if err := x.requireDatabasePrivilege(ctx, 'C'); err != nil {
			return err
		}
	case "item":
		if err := x.requireSchemaPrivilege(ctx, t.schemaID, t.schemaName, 'C'); err != nil {
			return err
		}
	}
	if t.owner == r.id {
		return nil
	}
	ids := []string{t.id}
	switch t.kind {
	case "database":
		return errf(codeFeature, "ALTER DATABASE ... OWNER TO is not supported by mzemu")
	case "schema":
		err = x.exec(ctx, `UPDATE mzemu_meta.schemas SET owner_id = $2 WHERE id = $1`, t.id, r.id)
	case "cluster":
		if err = x.exec(ctx, `UPDATE mzemu_meta.clusters SET owner_id = $2 WHERE id = $1`, t.id, r.id); err == nil {
			err = x.exec(ctx, `UPDATE mzemu_meta.replicas SET owner_id = $2 WHERE cluster_id = $1`, t.id, r.id)
		}
	default:
		rows, qerr := x.q(ctx, `UPDATE mzemu_meta.objects SET owner_id = $2 WHERE id = $1 OR (kind = 'index' AND on_id = $1) RETURNING id`, t.id, r.id)
		err = qerr
		ids = nil
		for _, row := range rows {
			ids = append(ids, row[0])
		}
	}
	if err != nil {
		return err
	}
	for _, id := range ids {
		if err := x.transferACLs(ctx, t.kind, id, t.owner, r.id); err != nil {
			return err
		}
	}
	return nil
}

// statementRefs finds the relations a read or write statement names: the
// target of INSERT/UPDATE/DELETE (with the privilege letter it needs) and
// every name in a FROM list or JOIN. Names that are not user items
// (catalog relations, CTEs) are dropped by the caller.
func statementRefs(toks []token) (target []string, letter byte, reads [][]string) {
	i := 0
	readName := func() []string {
		var parts []string
		for i < len(toks) {
			n, ok := toks[i].name()
			if !ok {
				break
			}
			parts = append(parts, n)
			i++
			if i < len(toks) && toks[i].isOp(".") {
				i++
				continue
			}
			break
		}
		return parts
	}
	if len(toks) > 0 {
		switch {
		case toks[0].isWord("insert") && len(toks) > 1 && toks[1].isWord("into"):
			i, letter = 2, 'a'
			target = readName()
		case toks[0].isWord("update"):
			i, letter = 1, 'w'
			target = readName()
		case toks[0].isWord("delete") && len(toks) > 1 && toks[1].isWord("from"):
			i, letter = 2, 'd'
			target = readName()
		case toks[0].isWord("table"):
			i = 1
			if n := readName(); n != nil {
				reads = append(reads, n)
			}
		}
	}
	for i < len(toks) {
		t := toks[i]
		i++
		if !(t.isWord("from") || t.isWord("join") || (letter == 'd' && t.isWord("using"))) {
			continue
		}
		for {
			if i >= len(toks) || toks[i].isOp("(") || toks[i].isWord("lateral") {
				break
			}
			n := readName()
			if n == nil || (i < len(toks) && toks[i].isOp("(")) {
				break
			}
			reads = append(reads, n)
			// Skip an alias (with optional column list).
			if i < len(toks) && toks[i].isWord("as") {
				i++
			}
			if i < len(toks) && (toks[i].kind == tokIdent || (toks[i].kind == tokWord && !keywords[toks[i].val] && !sqlClauseWord(toks[i].val))) {
				i++
				if i < len(toks) && toks[i].isOp("(") {
					for i < len(toks) && !toks[i].isOp(")") {
						i++
					}
					i++
				}
			}
			if i < len(toks) && toks[i].isOp(",") {
				i++
				continue
			}
			break
		}
	}
	return target, letter, reads
}

// sqlClauseWord reports words that end a FROM item rather than alias it.
func sqlClauseWord(w string) bool {
	switch w {
	case "where", "group", "order", "limit", "offset", "having", "join", "inner", "left", "right", "full", "cross",
		"natural", "on", "using", "union", "except", "intersect", "window", "fetch", "returning", "set", "values", "lateral":
		return true
	}
	return false
}

// roleIsSuperuser reports whether a role holds every privilege.
func (ss *session) roleIsSuperuser(ctx context.Context, roleID string) (bool, error) {
	rows, err := ss.q(ctx, `SELECT superuser FROM mzemu_meta.roles WHERE id = $1`, roleID)
	if err != nil || len(rows) == 0 {
		return false, err
	}
	return rows[0][0] == "t", nil
}

// checkStatementPrivileges applies Materialize's privilege checks to a read
// or write: USAGE on each schema, SELECT on each relation read (and, for a
// view, its owner's privileges on what the view reads), the write privilege
// on a target, and USAGE on the session's cluster when relations are read.
func (ss *session) checkStatementPrivileges(ctx context.Context, text string) error {
	if ss.superuser {
		return nil
	}
	target, letter, reads := statementRefs(lex(stripDatabase(text)))
	type need struct {
		role   string
		it     *item
		letter byte
	}
	var needs []need
	if target != nil {
		it, err := ss.lookupItem(ctx, target)
		if err != nil {
			return err
		}
		if it != nil {
			needs = append(needs, need{ss.roleID, it, letter})
			if letter == 'w' || letter == 'd' {
				needs = append(needs, need{ss.roleID, it, 'r'})
			}
		}
	}
	readsAny := false
	for _, n := range reads {
		it, err := ss.lookupItem(ctx, n)
		if err != nil {
			return err
		}
		if it != nil {
			needs = append(needs, need{ss.roleID, it, 'r'})
			readsAny = true
		}
	}
	seen := map[string]bool{}
	for k := 0; k < len(needs); k++ {
		nd := needs[k]
		key := nd.role + "/" + nd.it.id + "/" + string(nd.letter)
		if seen[key] {
			continue
		}
		seen[key] = true
		super, err := ss.roleIsSuperuser(ctx, nd.role)
		if err != nil {
			return err
		}
		if !super {
			if !seen[nd.role+"/schema/"+nd.it.schemaID] {
				seen[nd.role+"/schema/"+nd.it.schemaID] = true
				ok, err := ss.roleHolds(ctx, nd.role, "schema", nd.it.schemaID, 'U')
				if err != nil {
					return err
				}
				if !ok {
					return errf("42501", "permission denied for SCHEMA %q", "materialize."+nd.it.schemaName)
				}
			}
			ok, err := ss.roleHolds(ctx, nd.role, "item", nd.it.id, nd.letter)
			if err != nil {
				return err
			}
			if !ok {
				return errf("42501", "permission denied for %s %q", objectTypeWord(nd.it.kind), nd.it.fqname)
			}
		}
		if nd.it.kind == "view" || nd.it.kind == "materialized-view" {
			rows, err := ss.q(ctx, `SELECT `+itemCols+` FROM mzemu_meta.items i
 WHERE i.id IN (SELECT referenced_id FROM mzemu_meta.deps WHERE object_id = $1) ORDER BY substr(i.id, 2)::int8`, nd.it.id)
			if err != nil {
				return err
			}
			for _, r := range rows {
				needs = append(needs, need{nd.it.owner, scanItem(r), 'r'})
			}
		}
	}
	if readsAny {
		rows, err := ss.q(ctx, `SELECT id FROM mzemu_meta.clusters WHERE name = $1`, ss.cluster)
		if err != nil {
			return err
		}
		if len(rows) > 0 {
			if err := ss.checkPrivilege(ctx, "cluster", rows[0][0], 'U', fmt.Sprintf("CLUSTER %q", ss.cluster)); err != nil {
				return err
			}
		}
	}
	return nil
}

// transferACLs replaces role from by role to as grantee and grantor of an
// object's privileges, merging rows that meet.
func (x *ddlTx) transferACLs(ctx context.Context, kind, id, from, to string) error {
	rows, err := x.q(ctx, `DELETE FROM mzemu_meta.privileges WHERE kind = $1 AND object_id = $2 RETURNING grantee, grantor, acl`, kind, id)
	if err != nil {
		return err
	}
	merged := map[[2]string]string{}
	var order [][2]string
	for _, r := range rows {
		k := [2]string{r[0], r[1]}
		for i := range k {
			if k[i] == from {
				k[i] = to
			}
		}
		if _, ok := merged[k]; !ok {
			order = append(order, k)
		}
		merged[k] += r[2]
	}
	for _, k := range order {
		if err := x.exec(ctx, `INSERT INTO mzemu_meta.privileges VALUES ($1, $2, $3, $4, $5)`, kind, id, k[0], k[1], normACL(merged[k])); err != nil {
			return err
		}
	}
	return nil
}

// roleListEnd parses the end of a GRANT or REVOKE: kw (TO or FROM), a
// comma-separated list of roles (each optionally after GROUP), an optional
// GRANTED BY role, and the end of the statement.
func (p *parser) roleListEnd(kw string) ([]string, error) {
	if err := p.expect(kw); err != nil {
		return nil, err
	}
	var roles []string
	for {
		p.words("group")
		n, err := p.ident()
		if err != nil {
			return nil, err
		}
		roles = append(roles, n)
		if !p.op(",") {
			break
		}
	}
	if p.words("granted", "by") {
		if _, err := p.ident(); err != nil {
			return nil, err
		}
	}
	if err := p.expectEnd(); err != nil {
		return nil, err
	}
	return roles, nil
}
