package mzemu

import (
	"context"
	"strings"
)

// rolesBootstrapSQL adds roles, role membership, privileges and default
// privileges to the metadata schema, with the catalog relations that show
// them. Built-in roles: mz_system (s1) and mz_support (s2) as in
// Materialize, and materialize (u1), the default login role, which mzemu
// makes a superuser so tests that do not care about privileges stay
// simple. The emulated database, the public schema and quickstart are
// owned by u1, with USAGE for PUBLIC. Privileges are stored one row per
// (object, grantee, grantor) with Materialize's privilege letters and
// rendered as mz_aclitem text (grantee=letters/grantor, by role ID, PUBLIC
// as an empty grantee).
const rolesBootstrapSQL = `
CREATE SEQUENCE mzemu_meta.role_seq START 2;
CREATE TABLE mzemu_meta.roles (
  id text PRIMARY KEY, oid oid UNIQUE NOT NULL, name text UNIQUE NOT NULL,
  inherit bool NOT NULL DEFAULT true, login bool NOT NULL DEFAULT true, superuser bool NOT NULL DEFAULT false);
INSERT INTO mzemu_meta.roles VALUES
  ('s1', 16661, 'mz_system', true, true, true),
  ('s2', 16662, 'mz_support', true, true, false),
  ('u1', 20001, 'materialize', true, true, true);
CREATE TABLE mzemu_meta.role_members (
  role_id text NOT NULL, member text NOT NULL, grantor text NOT NULL, PRIMARY KEY (role_id, member));
CREATE TABLE mzemu_meta.privileges (
  kind text NOT NULL, object_id text NOT NULL, grantee text NOT NULL, grantor text NOT NULL, acl text NOT NULL,
  PRIMARY KEY (kind, object_id, grantee, grantor));
INSERT INTO mzemu_meta.privileges VALUES
  ('database', 'u1', 'p', 'u1', 'U'), ('database', 'u1', 'u1', 'u1', 'UC'),
  ('schema', 'u3', 'p', 'u1', 'U'), ('schema', 'u3', 'u1', 'u1', 'UC'),
  ('cluster', 'u1', 'p', 'u1', 'U'), ('cluster', 'u1', 'u1', 'u1', 'UC'),
  ('system', '', 's1', 's1', 'RBN'), ('system', '', 'u1', 's1', 'RBN');
CREATE TABLE mzemu_meta.default_privileges (
  role_id text NOT NULL, database_id text, schema_id text, object_type text NOT NULL, grantee text NOT NULL, acl text NOT NULL);
CREATE UNIQUE INDEX ON mzemu_meta.default_privileges (role_id, COALESCE(database_id, ''), COALESCE(schema_id, ''), object_type, grantee);

-- Role IDs sort as Materialize's RoleId: system, predefined, user, PUBLIC.
CREATE FUNCTION mzemu_meta.role_order(id text) RETURNS int8[] LANGUAGE sql IMMUTABLE AS $f$
  SELECT ARRAY[strpos('sgup', left(id, 1))::int8, COALESCE(NULLIF(substr(id, 2), '')::int8, 0)]
$f$;

CREATE FUNCTION mzemu_meta.acl(k text, obj text) RETURNS text[] LANGUAGE sql STABLE AS $f$
  SELECT COALESCE(array_agg(CASE WHEN p.grantee = 'p' THEN '' ELSE p.grantee END || '=' || p.acl || '/' || p.grantor
                            ORDER BY mzemu_meta.role_order(p.grantee), mzemu_meta.role_order(p.grantor)), '{}')
    FROM mzemu_meta.privileges p WHERE p.kind = k AND p.object_id = obj AND p.acl <> ''
$f$;

CREATE VIEW mz_catalog.mz_roles AS
SELECT id, oid, name, inherit, login AS rolcanlogin, superuser AS rolsuper FROM mzemu_meta.roles;
CREATE VIEW mz_catalog.mz_role_members AS
SELECT role_id, member, grantor FROM mzemu_meta.role_members;
CREATE VIEW mz_catalog.mz_default_privileges AS
SELECT role_id, database_id, schema_id, object_type, grantee, acl AS privileges FROM mzemu_meta.default_privileges;
CREATE VIEW mz_catalog.mz_system_privileges AS
SELECT CASE WHEN p.grantee = 'p' THEN '' ELSE p.grantee END || '=' || p.acl || '/' || p.grantor AS privileges
  FROM mzemu_meta.privileges p WHERE p.kind = 'system' AND p.acl <> '';
`

// rolesTriggersSQL makes every new object, schema, cluster and replica
// owned by the role of the DDL transaction (the transaction-local setting
// mzemu.role, set by runDDL), gives the owner all privileges of the
// object's type and applies the matching default privileges; dropping an
// object drops its privileges.
const rolesTriggersSQL = `
CREATE FUNCTION mzemu_meta.norm_acl(s text) RETURNS text LANGUAGE sql IMMUTABLE AS $f$
  SELECT COALESCE(string_agg(c, '' ORDER BY strpos('arwdUCRBNP', c)), '')
    FROM (SELECT DISTINCT c FROM unnest(string_to_array(s, NULL)) AS c) x
$f$;

CREATE FUNCTION mzemu_meta.own() RETURNS trigger LANGUAGE plpgsql AS $f$
DECLARE
  k text := TG_ARGV[0];
  typ text;
  allp text;
  dt text;
  sid text;
  r record;
BEGIN
  NEW.owner_id := COALESCE(NULLIF(current_setting('mzemu.role', true), ''), 'u1');
  IF k = 'replica' THEN RETURN NEW; END IF;
  IF k = 'item' THEN
    typ := NEW.kind;
    SELECT s.id INTO sid FROM pg_catalog.pg_class c JOIN mzemu_meta.schemas s ON s.oid = c.relnamespace WHERE c.oid = NEW.oid;
  ELSE
    typ := k;
  END IF;
  allp := CASE typ WHEN 'table' THEN 'arwd' WHEN 'view' THEN 'r' WHEN 'materialized-view' THEN 'r' WHEN 'source' THEN 'r'
    WHEN 'secret' THEN 'U' WHEN 'connection' THEN 'U' WHEN 'cluster' THEN 'UC' WHEN 'schema' THEN 'UC' ELSE '' END;
  IF allp <> '' THEN
    INSERT INTO mzemu_meta.privileges VALUES (k, NEW.id, NEW.owner_id, NEW.owner_id, allp) ON CONFLICT DO NOTHING;
  END IF;
  dt := CASE WHEN typ IN ('table', 'view', 'materialized-view', 'source') THEN 'table' WHEN typ = 'index' THEN NULL ELSE typ END;
  FOR r IN SELECT d.grantee, d.acl FROM mzemu_meta.default_privileges d
    WHERE d.role_id IN (NEW.owner_id, 'p') AND d.object_type = dt AND (d.database_id IS NULL OR d.database_id = 'u1')
      AND (d.schema_id IS NULL OR d.schema_id = sid)
  LOOP
    INSERT INTO mzemu_meta.privileges VALUES (k, NEW.id, r.grantee, NEW.owner_id, r.acl)
      ON CONFLICT (kind, object_id, grantee, grantor) DO UPDATE SET acl = mzemu_meta.norm_acl(mzemu_meta.privileges.acl || EXCLUDED.acl);
  END LOOP;
  RETURN NEW;
END
$f$;

CREATE FUNCTION mzemu_meta.disown() RETURNS trigger LANGUAGE plpgsql AS $f$
BEGIN
  DELETE FROM mzemu_meta.privileges WHERE kind = TG_ARGV[0] AND object_id = OLD.id;
  RETURN OLD;
END
$f$;

CREATE TRIGGER own BEFORE INSERT ON mzemu_meta.objects FOR EACH ROW EXECUTE FUNCTION mzemu_meta.own('item');
CREATE TRIGGER own BEFORE INSERT ON mzemu_meta.schemas FOR EACH ROW EXECUTE FUNCTION mzemu_meta.own('schema');
CREATE TRIGGER own BEFORE INSERT ON mzemu_meta.clusters FOR EACH ROW EXECUTE FUNCTION mzemu_meta.own('cluster');
CREATE TRIGGER own BEFORE INSERT ON mzemu_meta.replicas FOR EACH ROW EXECUTE FUNCTION mzemu_meta.own('replica');
CREATE TRIGGER disown AFTER DELETE ON mzemu_meta.objects FOR EACH ROW EXECUTE FUNCTION mzemu_meta.disown('item');
CREATE TRIGGER disown AFTER DELETE ON mzemu_meta.schemas FOR EACH ROW EXECUTE FUNCTION mzemu_meta.disown('schema');
CREATE TRIGGER disown AFTER DELETE ON mzemu_meta.clusters FOR EACH ROW EXECUTE FUNCTION mzemu_meta.disown('cluster');
`

// role is a catalog role.
type role struct {
	id, name  string
	superuser bool
}

// lookupRole finds a role by name; nil when there is none.
func (ss *session) lookupRole(ctx context.Context, name string) (*role, error) {
	rows, err := ss.q(ctx, `SELECT id, name, superuser FROM mzemu_meta.roles WHERE name = $1`, name)
	if err != nil || len(rows) == 0 {
		return nil, err
	}
	return &role{id: rows[0][0], name: rows[0][1], superuser: rows[0][2] == "t"}, nil
}

// resolveRole is lookupRole with Materialize's error for an unknown role.
// PUBLIC resolves to the pseudo-role "p" when public is true.
func (ss *session) resolveRole(ctx context.Context, name string, public bool) (*role, error) {
	if public && name == "public" {
		return &role{id: "p", name: "PUBLIC"}, nil
	}
	r, err := ss.lookupRole(ctx, name)
	if err != nil {
		return nil, err
	}
	if r == nil {
		return nil, errf(codeInternal, "unknown role '%s'", name)
	}
	return r, nil
}

// login sets the session's role from the startup packet's user: an
// unknown role is refused as Materialize refuses it.
func (ss *session) login(ctx context.Context, user string) error {
	if user == "" {
		user = "materialize"
	}
	r, err := ss.lookupRole(ctx, user)
	if err != nil {
		return err
	}
	if r == nil {
		return errf("28000", "role %q does not exist", user)
	}
	ss.roleID, ss.roleName, ss.superuser = r.id, r.name, r.superuser
	return ss.setBackingLoginRole(ctx)
}

// reservedRoleName is Materialize's error for a role name it keeps for
// itself.
func reservedRoleName(name string) error {
	if name == "public" || strings.HasPrefix(name, "mz_") || strings.HasPrefix(name, "pg_") {
		return errf(codeInternal, "role name %q is reserved", name).
			withDetail(`The role "public" and the prefixes "mz_" and "pg_" are reserved for system roles.`)
	}
	return nil
}

// parseRoleAttributes reads [WITH] INHERIT | NOINHERIT | ... up to the end.
func parseRoleAttributes(p *parser) error {
	p.words("with")
	for !p.atEnd() {
		t := p.next()
		switch {
		case t.isWord("inherit"):
		case t.isWord("noinherit"):
			return errf(codeFeature, "non inherit roles not yet supported")
		case t.kind == tokWord:
			return errf(codeFeature, "%s attribute is not supported by mzemu", strings.ToUpper(t.val))
		default:
			return errf(codeSyntax, "Expected end of statement, found %s", describeTok(t))
		}
	}
	return nil
}

func parseCreateRole(p *parser) (*stmt, error) {
	name, err := p.ident()
	if err != nil {
		return nil, err
	}
	if err := parseRoleAttributes(p); err != nil {
		return nil, err
	}
	return ddlStmt(clsDDLSingle, "CREATE ROLE", func(ctx context.Context, x *ddlTx) (string, error) {
		if err := x.requireSystemPrivilege(ctx, "R"); err != nil {
			return "", err
		}
		if err := reservedRoleName(name); err != nil {
			return "", err
		}
		if r, err := x.ss.lookupRole(ctx, name); err != nil {
			return "", err
		} else if r != nil {
			return "", errf(codeInternal, "role '%s' already exists", name)
		}
		return "CREATE ROLE", x.exec(ctx, `INSERT INTO mzemu_meta.roles (id, oid, name)
 SELECT 'u' || n, 20000 + n, $1 FROM (SELECT nextval('mzemu_meta.role_seq') AS n) s`, name)
	}), nil
}

func parseAlterRole(p *parser) (*stmt, error) {
	ifExists := p.words("if", "exists")
	name, err := p.ident()
	if err != nil {
		return nil, err
	}
	if p.words("set") || p.words("reset") {
		// Role defaults for session variables: accepted, not applied.
		return ddlStmt(clsDDLSingle, "ALTER ROLE", func(ctx context.Context, x *ddlTx) (string, error) {
			r, err := x.ss.lookupRole(ctx, name)
			if err != nil {
				return "", err
			}
			if r == nil && !ifExists {
				return "", errf(codeInternal, "unknown role '%s'", name)
			}
			if r != nil && r.id != x.ss.roleID {
				if err := x.requireSystemPrivilege(ctx, "R"); err != nil {
					return "", err
				}
			}
			return "ALTER ROLE", nil
		}), nil
	}
	if p.words("rename", "to") {
		return nil, errf(codeFeature, "ALTER ROLE ... RENAME is not supported by mzemu")
	}
	if err := parseRoleAttributes(p); err != nil {
		return nil, err
	}
	return ddlStmt(clsDDLSingle, "ALTER ROLE", func(ctx context.Context, x *ddlTx) (string, error) {
		if err := x.requireSystemPrivilege(ctx, "R"); err != nil {
			return "", err
		}
		if _, err := x.ss.resolveRole(ctx, name, false); err != nil {
			return "", err
		}
		return "ALTER ROLE", nil
	}), nil
}

func parseDropRole(p *parser) (*stmt, error) {
	ifExists := p.words("if", "exists")
	var names []string
	for {
		n, err := p.ident()
		if err != nil {
			return nil, err
		}
		names = append(names, n)
		if !p.op(",") {
			break
		}
	}
	if err := p.expectEnd(); err != nil {
		return nil, err
	}
	return ddlStmt(clsDDLSingle, "DROP ROLE", func(ctx context.Context, x *ddlTx) (string, error) {
		if err := x.requireSystemPrivilege(ctx, "R"); err != nil {
			return "", err
		}
		for _, n := range names {
			r, err := x.ss.lookupRole(ctx, n)
			if err != nil {
				return "", err
			}
			if r == nil {
				if ifExists {
					x.notice(notice(codeUndefinedObj, "role %q does not exist, skipping", n))
					continue
				}
				return "", errf(codeInternal, "unknown role '%s'", n)
			}
			if err := reservedRoleName(n); err != nil || r.id == "u1" {
				return "", errf("42501", "cannot drop role %q because it is required by the database system", n)
			}
			if r.id == x.ss.roleID {
				return "", errf(codeInternal, "current role cannot be dropped")
			}
			if err := x.roleDependents(ctx, r); err != nil {
				return "", err
			}
			for _, s := range []string{
				`DELETE FROM mzemu_meta.role_members WHERE role_id = $1 OR member = $1`,
				`DELETE FROM mzemu_meta.default_privileges WHERE role_id = $1 OR grantee = $1`,
				`DELETE FROM mzemu_meta.comments WHERE id = $1 AND object_type = 'role'`,
				`DELETE FROM mzemu_meta.roles WHERE id = $1`,
			} {
				if err := x.exec(ctx, s, r.id); err != nil {
					return "", err
				}
			}
		}
		return "DROP ROLE", nil
	}), nil
}

// roleDependents fails when a role owns objects or holds privileges, as
// Materialize's DROP ROLE does.
func (x *ddlTx) roleDependents(ctx context.Context, r *role) error {
	rows, err := x.q(ctx, `
SELECT 'owner of ' || upper(replace(i.kind, '-', ' ')) || ' ' || i.fqname, 1 FROM mzemu_meta.items i WHERE i.owner_id = $1
UNION ALL SELECT 'owner of SCHEMA materialize.' || mzemu_meta.mz_name(n.nspname), 2 FROM mzemu_meta.schemas s
  JOIN pg_catalog.pg_namespace n ON n.oid = s.oid WHERE s.owner_id = $1
UNION ALL SELECT 'owner of CLUSTER ' || c.name, 3 FROM mzemu_meta.clusters c WHERE c.owner_id = $1
UNION ALL SELECT 'privileges granted on ' || p.kind || ' ' || p.object_id, 4 FROM mzemu_meta.privileges p
  WHERE (p.grantee = $1 OR p.grantor = $1) AND p.acl <> '' AND p.kind <> 'system'
ORDER BY 2, 1`, r.id)
	if err != nil {
		return err
	}
	if len(rows) == 0 {
		return nil
	}
	var detail []string
	for _, row := range rows {
		detail = append(detail, r.name+": "+row[0])
	}
	return errf("2BP01", "role %q cannot be dropped because some objects depend on it", r.name).
		withDetail(strings.Join(detail, "\n"))
}

// parseGrantRole parses GRANT r [, ...] TO m [, ...] / REVOKE r [, ...]
// FROM m [, ...] (the keyword already consumed).
func parseGrantRole(p *parser, grant bool) (*stmt, error) {
	var roles []string
	for {
		n, err := p.ident()
		if err != nil {
			return nil, err
		}
		roles = append(roles, n)
		if !p.op(",") {
			break
		}
	}
	kw := "to"
	if !grant {
		kw = "from"
	}
	members, err := p.roleListEnd(kw)
	if err != nil {
		return nil, err
	}
	tag := "GRANT ROLE"
	if !grant {
		tag = "REVOKE ROLE"
	}
	return ddlStmt(clsDDLSingle, tag, func(ctx context.Context, x *ddlTx) (string, error) {
		if err := x.requireSystemPrivilege(ctx, "R"); err != nil {
			return "", err
		}
		for _, rn := range roles {
			r, err := x.ss.resolveRole(ctx, rn, false)
			if err != nil {
				return "", err
			}
			for _, mn := range members {
				m, err := x.ss.resolveRole(ctx, mn, false)
				if err != nil {
					return "", err
				}
				if !grant {
					rows, err := x.q(ctx, `DELETE FROM mzemu_meta.role_members WHERE role_id = $1 AND member = $2 RETURNING 1`, r.id, m.id)
					if err != nil {
						return "", err
					}
					if len(rows) == 0 {
						x.notice(notice("00000", "role %q is not a member of role %q", m.name, r.name))
					}
					continue
				}
				// A membership that would make a cycle is refused.
				set, err := x.ss.memberships(ctx, r.id)
				if err != nil {
					return "", err
				}
				if r.id == m.id || contains(set, m.id) {
					return "", errf(codeInternal, "role %q is a member of role %q", r.name, m.name)
				}
				rows, err := x.q(ctx, `INSERT INTO mzemu_meta.role_members VALUES ($1, $2, $3) ON CONFLICT DO NOTHING RETURNING 1`, r.id, m.id, x.ss.roleID)
				if err != nil {
					return "", err
				}
				if len(rows) == 0 {
					x.notice(notice("00000", "role %q is already a member of role %q", m.name, r.name))
				}
			}
		}
		return tag, nil
	}), nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// memberships returns the role itself, every role it is a member of
// (transitively) and PUBLIC.
func (ss *session) memberships(ctx context.Context, roleID string) ([]string, error) {
	rows, err := ss.q(ctx, `WITH RECURSIVE m(id) AS (
  SELECT $1::text UNION SELECT rm.role_id FROM mzemu_meta.role_members rm JOIN m ON rm.member = m.id)
SELECT id FROM m`, roleID)
	if err != nil {
		return nil, err
	}
	out := []string{"p"}
	for _, r := range rows {
		out = append(out, r[0])
	}
	return out, nil
}
