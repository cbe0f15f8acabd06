package mzemu

import (
	"context"

	"github.com/jackc/pgx/v5/pgconn"
)

// Materialize's access privilege inquiry functions (doc/user/content/sql/
// functions: "Access privilege inquiry functions"): has_cluster_privilege,
// has_connection_privilege, has_database_privilege, has_schema_privilege,
// has_secret_privilege, has_system_privilege, has_table_privilege,
// has_type_privilege, has_role (and pg_has_role) and mz_is_superuser.
//
// Their semantics, as Materialize's SQL definitions of them
// (src/sql/src/func.rs) have them: a role holds a privilege on an object
// when one of the object's mz_aclitems grants it to PUBLIC or to a role the
// role is a member of (itself included, memberships followed
// transitively). Owners pass because an owner is granted every privilege
// of the object's type when it is created (and not once that is revoked).
// Superusers do NOT pass: "None of the following functions consider
// whether the provided role is a superuser or not"; ask mz_is_superuser()
// for that. The privilege argument is a comma-separated list of privilege
// names, in any case, and the function is true when any of them is held
// (mz_acl_item_contains_privilege); an unknown name is an error (AclMode::
// parse_single_privilege, "unrecognized privilege type"). A NULL argument
// gives NULL. The role is a name or an OID and defaults to current_role;
// objects are given by name (or OID, except clusters and the system).
//
// The functions are SQL functions in the backing database's mz_catalog
// schema, which every session searches before pg_catalog, so they shadow
// PostgreSQL's functions of the same name and signature (which would
// answer for the backing database's own roles). The login role reaches
// them through the backing session setting mzemu.login_role (the role's
// ID), set at login and on every reconnect.
const privFuncsSQL = `
-- The login role of the session (its ID), set by mzemu at login.
CREATE FUNCTION mzemu_meta.login_role() RETURNS text LANGUAGE sql STABLE AS $f$
  SELECT COALESCE(NULLIF(current_setting('mzemu.login_role', true), ''), 'u1')
$f$;

-- The role itself, every role it is a member of (transitively) and PUBLIC.
CREATE FUNCTION mzemu_meta.role_set(r text) RETURNS SETOF text LANGUAGE sql STABLE AS $f$
  WITH RECURSIVE m(id) AS (
    SELECT r UNION SELECT rm.role_id FROM mzemu_meta.role_members rm JOIN m ON rm.member = m.id)
  SELECT id FROM m UNION ALL SELECT 'p'
$f$;

CREATE FUNCTION mzemu_meta.role_by_name(n text) RETURNS text LANGUAGE plpgsql STABLE AS $f$
DECLARE r text;
BEGIN
  IF n IS NULL THEN RETURN NULL; END IF;
  SELECT id INTO r FROM mzemu_meta.roles WHERE name = n;
  IF r IS NULL THEN
    RAISE EXCEPTION 'role "%" does not exist', n USING ERRCODE = '42704';
  END IF;
  RETURN r;
END
$f$;

CREATE FUNCTION mzemu_meta.role_by_oid(o oid) RETURNS text LANGUAGE sql STABLE AS $f$
  SELECT id FROM mzemu_meta.roles WHERE oid = o
$f$;

-- Privilege names (comma-separated, any case) to Materialize's letters.
CREATE FUNCTION mzemu_meta.priv_letters(privs text) RETURNS text LANGUAGE plpgsql IMMUTABLE AS $f$
DECLARE
  p text;
  out text := '';
BEGIN
  IF privs IS NULL THEN RETURN NULL; END IF;
  FOREACH p IN ARRAY string_to_array(privs, ',') LOOP
    out := out || CASE upper(btrim(p))
      WHEN 'INSERT' THEN 'a' WHEN 'SELECT' THEN 'r' WHEN 'UPDATE' THEN 'w' WHEN 'DELETE' THEN 'd'
      WHEN 'USAGE' THEN 'U' WHEN 'CREATE' THEN 'C' WHEN 'CREATEROLE' THEN 'R' WHEN 'CREATEDB' THEN 'B'
      WHEN 'CREATECLUSTER' THEN 'N' WHEN 'CREATENETWORKPOLICY' THEN 'P'
      ELSE NULL END;
    IF out IS NULL THEN
      RAISE EXCEPTION 'unrecognized privilege type: "%"', p USING ERRCODE = '22023';
    END IF;
  END LOOP;
  RETURN out;
END
$f$;

-- has_priv: does role r hold any of privs on the object (kind, id)?
CREATE FUNCTION mzemu_meta.has_priv(r text, k text, obj text, privs text) RETURNS bool LANGUAGE plpgsql STABLE AS $f$
DECLARE letters text := mzemu_meta.priv_letters(privs);
BEGIN
  IF r IS NULL OR obj IS NULL OR letters IS NULL THEN RETURN NULL; END IF;
  RETURN EXISTS (SELECT 1 FROM mzemu_meta.privileges p
    WHERE p.kind = k AND p.object_id = obj AND p.grantee IN (SELECT mzemu_meta.role_set(r))
      AND p.acl ~ ('[' || letters || ']'));
END
$f$;

-- Object lookups by name; an unknown name is an error.
CREATE FUNCTION mzemu_meta.cluster_by_name(n text) RETURNS text LANGUAGE plpgsql STABLE AS $f$
DECLARE r text;
BEGIN
  IF n IS NULL THEN RETURN NULL; END IF;
  SELECT id INTO r FROM mzemu_meta.clusters WHERE name = n;
  IF r IS NULL THEN
    RAISE EXCEPTION 'unknown cluster ''%''', n USING ERRCODE = 'XX000';
  END IF;
  RETURN r;
END
$f$;

CREATE FUNCTION mzemu_meta.database_by_name(n text) RETURNS text LANGUAGE plpgsql STABLE AS $f$
BEGIN
  IF n IS NULL THEN RETURN NULL; END IF;
  IF n <> 'materialize' THEN
    RAISE EXCEPTION 'unknown database ''%''', n USING ERRCODE = 'XX000';
  END IF;
  RETURN 'u1';
END
$f$;

CREATE FUNCTION mzemu_meta.schema_by_name(n text) RETURNS text LANGUAGE plpgsql STABLE AS $f$
DECLARE
  r text;
  nm text := n;
BEGIN
  IF n IS NULL THEN RETURN NULL; END IF;
  IF nm LIKE 'materialize.%' THEN nm := substr(nm, length('materialize.') + 1); END IF;
  SELECT s.id INTO r FROM mzemu_meta.schemas s JOIN pg_catalog.pg_namespace ns ON ns.oid = s.oid
   WHERE mzemu_meta.mz_name(ns.nspname) = nm;
  IF r IS NULL THEN
    RAISE EXCEPTION 'unknown schema ''%''', n USING ERRCODE = 'XX000';
  END IF;
  RETURN r;
END
$f$;

CREATE FUNCTION mzemu_meta.schema_by_oid(o oid) RETURNS text LANGUAGE sql STABLE AS $f$
  SELECT id FROM mzemu_meta.schemas WHERE oid = o
$f$;

-- item_by_name resolves a (possibly qualified) item name of one of kinds
-- on the session's search path.
CREATE FUNCTION mzemu_meta.item_by_name(n text, kinds text[]) RETURNS text LANGUAGE plpgsql STABLE AS $f$
DECLARE
  r text;
  nm text := n;
  o oid;
BEGIN
  IF n IS NULL THEN RETURN NULL; END IF;
  IF nm LIKE 'materialize.%.%' THEN nm := substr(nm, length('materialize.') + 1); END IF;
  o := pg_catalog.to_regclass(nm);
  SELECT id INTO r FROM mzemu_meta.objects WHERE oid = o AND kind = ANY (kinds);
  IF r IS NULL THEN
    -- A name over 63 bytes has a backing name of its own: match the
    -- unquoted schema.item by Materialize's names.
    SELECT ob.id INTO r FROM mzemu_meta.objects ob
      JOIN pg_catalog.pg_class c ON c.oid = ob.oid JOIN pg_catalog.pg_namespace ns ON ns.oid = c.relnamespace
     WHERE ob.kind = ANY (kinds) AND mzemu_meta.mz_name(c.relname) = substring(nm FROM '[^.]*$')
       AND (strpos(nm, '.') = 0 OR mzemu_meta.mz_name(ns.nspname) = substring(nm FROM '^(.*)[.][^.]*$'))
     LIMIT 1;
  END IF;
  IF r IS NULL THEN
    RAISE EXCEPTION 'unknown catalog item ''%''', n USING ERRCODE = 'XX000';
  END IF;
  RETURN r;
END
$f$;

CREATE FUNCTION mzemu_meta.item_by_oid(o oid, kinds text[]) RETURNS text LANGUAGE sql STABLE AS $f$
  SELECT id FROM mzemu_meta.objects WHERE oid = o AND kind = ANY (kinds)
$f$;

CREATE FUNCTION mz_catalog.mz_is_superuser() RETURNS bool LANGUAGE sql STABLE AS $f$
  SELECT superuser FROM mzemu_meta.roles WHERE id = mzemu_meta.login_role()
$f$;

CREATE FUNCTION mz_catalog.has_cluster_privilege(r name, c text, p text) RETURNS bool LANGUAGE sql STABLE AS $f$
  SELECT mzemu_meta.has_priv(mzemu_meta.role_by_name(r), 'cluster', mzemu_meta.cluster_by_name(c), p) $f$;
CREATE FUNCTION mz_catalog.has_cluster_privilege(r oid, c text, p text) RETURNS bool LANGUAGE sql STABLE AS $f$
  SELECT mzemu_meta.has_priv(mzemu_meta.role_by_oid(r), 'cluster', mzemu_meta.cluster_by_name(c), p) $f$;
CREATE FUNCTION mz_catalog.has_cluster_privilege(c text, p text) RETURNS bool LANGUAGE sql STABLE AS $f$
  SELECT mzemu_meta.has_priv(mzemu_meta.login_role(), 'cluster', mzemu_meta.cluster_by_name(c), p) $f$;

CREATE FUNCTION mz_catalog.has_database_privilege(r name, d text, p text) RETURNS bool LANGUAGE sql STABLE AS $f$
  SELECT mzemu_meta.has_priv(mzemu_meta.role_by_name(r), 'database', mzemu_meta.database_by_name(d), p) $f$;
CREATE FUNCTION mz_catalog.has_database_privilege(r oid, d text, p text) RETURNS bool LANGUAGE sql STABLE AS $f$
  SELECT mzemu_meta.has_priv(mzemu_meta.role_by_oid(r), 'database', mzemu_meta.database_by_name(d), p) $f$;
CREATE FUNCTION mz_catalog.has_database_privilege(r name, d oid, p text) RETURNS bool LANGUAGE sql STABLE AS $f$
  SELECT mzemu_meta.has_priv(mzemu_meta.role_by_name(r), 'database', CASE WHEN d = 20000 THEN 'u1' END, p) $f$;
CREATE FUNCTION mz_catalog.has_database_privilege(r oid, d oid, p text) RETURNS bool LANGUAGE sql STABLE AS $f$
  SELECT mzemu_meta.has_priv(mzemu_meta.role_by_oid(r), 'database', CASE WHEN d = 20000 THEN 'u1' END, p) $f$;
CREATE FUNCTION mz_catalog.has_database_privilege(d text, p text) RETURNS bool LANGUAGE sql STABLE AS $f$
  SELECT mzemu_meta.has_priv(mzemu_meta.login_role(), 'database', mzemu_meta.database_by_name(d), p) $f$;
CREATE FUNCTION mz_catalog.has_database_privilege(d oid, p text) RETURNS bool LANGUAGE sql STABLE AS $f$
  SELECT mzemu_meta.has_priv(mzemu_meta.login_role(), 'database', CASE WHEN d = 20000 THEN 'u1' END, p) $f$;

CREATE FUNCTION mz_catalog.has_schema_privilege(r name, s text, p text) RETURNS bool LANGUAGE sql STABLE AS $f$
  SELECT mzemu_meta.has_priv(mzemu_meta.role_by_name(r), 'schema', mzemu_meta.schema_by_name(s), p) $f$;
CREATE FUNCTION mz_catalog.has_schema_privilege(r oid, s text, p text) RETURNS bool LANGUAGE sql STABLE AS $f$
  SELECT mzemu_meta.has_priv(mzemu_meta.role_by_oid(r), 'schema', mzemu_meta.schema_by_name(s), p) $f$;
CREATE FUNCTION mz_catalog.has_schema_privilege(r name, s oid, p text) RETURNS bool LANGUAGE sql STABLE AS $f$
  SELECT mzemu_meta.has_priv(mzemu_meta.role_by_name(r), 'schema', mzemu_meta.schema_by_oid(s), p) $f$;
CREATE FUNCTION mz_catalog.has_schema_privilege(r oid, s oid, p text) RETURNS bool LANGUAGE sql STABLE AS $f$
  SELECT mzemu_meta.has_priv(mzemu_meta.role_by_oid(r), 'schema', mzemu_meta.schema_by_oid(s), p) $f$;
CREATE FUNCTION mz_catalog.has_schema_privilege(s text, p text) RETURNS bool LANGUAGE sql STABLE AS $f$
  SELECT mzemu_meta.has_priv(mzemu_meta.login_role(), 'schema', mzemu_meta.schema_by_name(s), p) $f$;
CREATE FUNCTION mz_catalog.has_schema_privilege(s oid, p text) RETURNS bool LANGUAGE sql STABLE AS $f$
  SELECT mzemu_meta.has_priv(mzemu_meta.login_role(), 'schema', mzemu_meta.schema_by_oid(s), p) $f$;

CREATE FUNCTION mz_catalog.has_system_privilege(r name, p text) RETURNS bool LANGUAGE sql STABLE AS $f$
  SELECT mzemu_meta.has_priv(mzemu_meta.role_by_name(r), 'system', '', p) $f$;
CREATE FUNCTION mz_catalog.has_system_privilege(r oid, p text) RETURNS bool LANGUAGE sql STABLE AS $f$
  SELECT mzemu_meta.has_priv(mzemu_meta.role_by_oid(r), 'system', '', p) $f$;
CREATE FUNCTION mz_catalog.has_system_privilege(p text) RETURNS bool LANGUAGE sql STABLE AS $f$
  SELECT mzemu_meta.has_priv(mzemu_meta.login_role(), 'system', '', p) $f$;

CREATE FUNCTION mz_catalog.has_role(u name, r name, p text) RETURNS bool LANGUAGE plpgsql STABLE AS $f$
DECLARE uid text := mzemu_meta.role_by_name(u); rid text := mzemu_meta.role_by_name(r);
BEGIN
  IF p IS NULL THEN RETURN NULL; END IF;
  IF upper(p) NOT IN ('MEMBER', 'USAGE') THEN
    RAISE EXCEPTION 'unrecognized privilege type: "%"', p USING ERRCODE = '22023';
  END IF;
  RETURN rid IN (SELECT mzemu_meta.role_set(uid));
END
$f$;
CREATE FUNCTION mz_catalog.has_role(u oid, r oid, p text) RETURNS bool LANGUAGE sql STABLE AS $f$
  SELECT mz_catalog.has_role((SELECT name FROM mzemu_meta.roles WHERE oid = u)::name, (SELECT name FROM mzemu_meta.roles WHERE oid = r)::name, p) $f$;
CREATE FUNCTION mz_catalog.has_role(r name, p text) RETURNS bool LANGUAGE sql STABLE AS $f$
  SELECT mz_catalog.has_role((SELECT name FROM mzemu_meta.roles WHERE id = mzemu_meta.login_role())::name, r, p) $f$;
CREATE FUNCTION mz_catalog.pg_has_role(u name, r name, p text) RETURNS bool LANGUAGE sql STABLE AS $f$
  SELECT mz_catalog.has_role(u, r, p) $f$;
CREATE FUNCTION mz_catalog.pg_has_role(u oid, r oid, p text) RETURNS bool LANGUAGE sql STABLE AS $f$
  SELECT mz_catalog.has_role(u, r, p) $f$;
CREATE FUNCTION mz_catalog.pg_has_role(r name, p text) RETURNS bool LANGUAGE sql STABLE AS $f$
  SELECT mz_catalog.has_role(r, p) $f$;

-- has_table_privilege, has_connection_privilege, has_secret_privilege,
-- has_type_privilege: role and item each by name or OID.
CREATE FUNCTION mz_catalog.has_table_privilege(r name, o text, p text) RETURNS bool LANGUAGE sql STABLE AS $f$
  SELECT mzemu_meta.has_priv(mzemu_meta.role_by_name(r), 'item', mzemu_meta.item_by_name(o, ARRAY['table','view','materialized-view','source']), p) $f$;
CREATE FUNCTION mz_catalog.has_table_privilege(r oid, o text, p text) RETURNS bool LANGUAGE sql STABLE AS $f$
  SELECT mzemu_meta.has_priv(mzemu_meta.role_by_oid(r), 'item', mzemu_meta.item_by_name(o, ARRAY['table','view','materialized-view','source']), p) $f$;
CREATE FUNCTION mz_catalog.has_table_privilege(r name, o oid, p text) RETURNS bool LANGUAGE sql STABLE AS $f$
  SELECT mzemu_meta.has_priv(mzemu_meta.role_by_name(r), 'item', mzemu_meta.item_by_oid(o, ARRAY['table','view','materialized-view','source']), p) $f$;
CREATE FUNCTION mz_catalog.has_table_privilege(r oid, o oid, p text) RETURNS bool LANGUAGE sql STABLE AS $f$
  SELECT mzemu_meta.has_priv(mzemu_meta.role_by_oid(r), 'item', mzemu_meta.item_by_oid(o, ARRAY['table','view','materialized-view','source']), p) $f$;
CREATE FUNCTION mz_catalog.has_table_privilege(o text, p text) RETURNS bool LANGUAGE sql STABLE AS $f$
  SELECT mzemu_meta.has_priv(mzemu_meta.login_role(), 'item', mzemu_meta.item_by_name(o, ARRAY['table','view','materialized-view','source']), p) $f$;
CREATE FUNCTION mz_catalog.has_table_privilege(o oid, p text) RETURNS bool LANGUAGE sql STABLE AS $f$
  SELECT mzemu_meta.has_priv(mzemu_meta.login_role(), 'item', mzemu_meta.item_by_oid(o, ARRAY['table','view','materialized-view','source']), p) $f$;
CREATE FUNCTION mz_catalog.has_connection_privilege(r name, o text, p text) RETURNS bool LANGUAGE sql STABLE AS $f$
  SELECT mzemu_meta.has_priv(mzemu_meta.role_by_name(r), 'item', mzemu_meta.item_by_name(o, ARRAY['connection']), p) $f$;
CREATE FUNCTION mz_catalog.has_connection_privilege(r oid, o text, p text) RETURNS bool LANGUAGE sql STABLE AS $f$
  SELECT mzemu_meta.has_priv(mzemu_meta.role_by_oid(r), 'item', mzemu_meta.item_by_name(o, ARRAY['connection']), p) $f$;
CREATE FUNCTION mz_catalog.has_connection_privilege(r name, o oid, p text) RETURNS bool LANGUAGE sql STABLE AS $f$
  SELECT mzemu_meta.has_priv(mzemu_meta.role_by_name(r), 'item', mzemu_meta.item_by_oid(o, ARRAY['connection']), p) $f$;
CREATE FUNCTION mz_catalog.has_connection_privilege(r oid, o oid, p text) RETURNS bool LANGUAGE sql STABLE AS $f$
  SELECT mzemu_meta.has_priv(mzemu_meta.role_by_oid(r), 'item', mzemu_meta.item_by_oid(o, ARRAY['connection']), p) $f$;
CREATE FUNCTION mz_catalog.has_connection_privilege(o text, p text) RETURNS bool LANGUAGE sql STABLE AS $f$
  SELECT mzemu_meta.has_priv(mzemu_meta.login_role(), 'item', mzemu_meta.item_by_name(o, ARRAY['connection']), p) $f$;
CREATE FUNCTION mz_catalog.has_connection_privilege(o oid, p text) RETURNS bool LANGUAGE sql STABLE AS $f$
  SELECT mzemu_meta.has_priv(mzemu_meta.login_role(), 'item', mzemu_meta.item_by_oid(o, ARRAY['connection']), p) $f$;
CREATE FUNCTION mz_catalog.has_secret_privilege(r name, o text, p text) RETURNS bool LANGUAGE sql STABLE AS $f$
  SELECT mzemu_meta.has_priv(mzemu_meta.role_by_name(r), 'item', mzemu_meta.item_by_name(o, ARRAY['secret']), p) $f$;
CREATE FUNCTION mz_catalog.has_secret_privilege(r oid, o text, p text) RETURNS bool LANGUAGE sql STABLE AS $f$
  SELECT mzemu_meta.has_priv(mzemu_meta.role_by_oid(r), 'item', mzemu_meta.item_by_name(o, ARRAY['secret']), p) $f$;
CREATE FUNCTION mz_catalog.has_secret_privilege(r name, o oid, p text) RETURNS bool LANGUAGE sql STABLE AS $f$
  SELECT mzemu_meta.has_priv(mzemu_meta.role_by_name(r), 'item', mzemu_meta.item_by_oid(o, ARRAY['secret']), p) $f$;
CREATE FUNCTION mz_catalog.has_secret_privilege(r oid, o oid, p text) RETURNS bool LANGUAGE sql STABLE AS $f$
  SELECT mzemu_meta.has_priv(mzemu_meta.role_by_oid(r), 'item', mzemu_meta.item_by_oid(o, ARRAY['secret']), p) $f$;
CREATE FUNCTION mz_catalog.has_secret_privilege(o text, p text) RETURNS bool LANGUAGE sql STABLE AS $f$
  SELECT mzemu_meta.has_priv(mzemu_meta.login_role(), 'item', mzemu_meta.item_by_name(o, ARRAY['secret']), p) $f$;
CREATE FUNCTION mz_catalog.has_secret_privilege(o oid, p text) RETURNS bool LANGUAGE sql STABLE AS $f$
  SELECT mzemu_meta.has_priv(mzemu_meta.login_role(), 'item', mzemu_meta.item_by_oid(o, ARRAY['secret']), p) $f$;
CREATE FUNCTION mz_catalog.has_type_privilege(r name, o text, p text) RETURNS bool LANGUAGE sql STABLE AS $f$
  SELECT mzemu_meta.has_priv(mzemu_meta.role_by_name(r), 'item', mzemu_meta.item_by_name(o, ARRAY['type']), p) $f$;
CREATE FUNCTION mz_catalog.has_type_privilege(r oid, o text, p text) RETURNS bool LANGUAGE sql STABLE AS $f$
  SELECT mzemu_meta.has_priv(mzemu_meta.role_by_oid(r), 'item', mzemu_meta.item_by_name(o, ARRAY['type']), p) $f$;
CREATE FUNCTION mz_catalog.has_type_privilege(r name, o oid, p text) RETURNS bool LANGUAGE sql STABLE AS $f$
  SELECT mzemu_meta.has_priv(mzemu_meta.role_by_name(r), 'item', mzemu_meta.item_by_oid(o, ARRAY['type']), p) $f$;
CREATE FUNCTION mz_catalog.has_type_privilege(r oid, o oid, p text) RETURNS bool LANGUAGE sql STABLE AS $f$
  SELECT mzemu_meta.has_priv(mzemu_meta.role_by_oid(r), 'item', mzemu_meta.item_by_oid(o, ARRAY['type']), p) $f$;
CREATE FUNCTION mz_catalog.has_type_privilege(o text, p text) RETURNS bool LANGUAGE sql STABLE AS $f$
  SELECT mzemu_meta.has_priv(mzemu_meta.login_role(), 'item', mzemu_meta.item_by_name(o, ARRAY['type']), p) $f$;
CREATE FUNCTION mz_catalog.has_type_privilege(o oid, p text) RETURNS bool LANGUAGE sql STABLE AS $f$
  SELECT mzemu_meta.has_priv(mzemu_meta.login_role(), 'item', mzemu_meta.item_by_oid(o, ARRAY['type']), p) $f$;
`

// setBackingLoginRole records the session's login role in its backing
// session, for the privilege functions that default to current_role.
func (ss *session) setBackingLoginRole(ctx context.Context) error {
	_, err := ss.db.Exec(ctx, "SELECT set_config('mzemu.login_role', '"+ss.roleID+"', false)").ReadAll()
	return err
}

// backingLoginRoleParam sets the login role as a startup parameter of a
// (re)connected backing session.
func (ss *session) backingLoginRoleParam(cfg *pgconn.Config) {
	if ss.roleID != "" {
		cfg.RuntimeParams["mzemu.login_role"] = ss.roleID
	}
}
