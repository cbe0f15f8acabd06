package mzemu_test

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"github.com/mzsync/mzsync/internal/mzemu/mzemutest"
)

// connectAs connects to the emulator as another login role.
func connectAs(t *testing.T, e *mzemutest.Env, user string) (*pgx.Conn, error) {
	t.Helper()
	u := strings.Replace(e.MaterializeURL, "//materialize@", "//"+user+"@", 1)
	c, err := pgx.Connect(testCtx(t), u)
	if err == nil {
		t.Cleanup(func() { c.Close(context.Background()) })
	}
	return c, err
}

// TestRolesAndPrivileges: a role without privileges gets Materialize's
// errors; grants, ownership, membership and default privileges open the
// way; the catalog shows owners and privileges.
func TestRolesAndPrivileges(t *testing.T) {
	e := mzemutest.New(t)
	c := connect(t, e.MaterializeURL)
	if _, err := connectAs(t, e, "nobody"); err == nil || !strings.Contains(err.Error(), `role "nobody" does not exist`) || !strings.Contains(err.Error(), "28000") {
		t.Fatalf("login as an unknown role: %v", err)
	}
	mustExec(t, c, `CREATE ROLE alice`, `CREATE ROLE bob`, `CREATE SCHEMA app`, `CREATE TABLE app.t (a int)`,
		`INSERT INTO app.t VALUES (1)`, `CREATE VIEW app.v AS SELECT a FROM app.t`)
	a, err := connectAs(t, e, "alice")
	if err != nil {
		t.Fatalf("connect as alice: %v", err)
	}
	var super string
	if err := a.QueryRow(testCtx(t), `SHOW is_superuser`).Scan(&super); err == nil && super != "off" {
		t.Errorf("alice is_superuser = %q", super)
	}
	denied := []struct{ name, sql, code, msg string }{
		{"read without USAGE on the schema", `SELECT * FROM app.t`, "42501", `permission denied for SCHEMA "materialize.app"`},
		{"create without CREATE on the schema", `CREATE TABLE app.x (a int)`, "42501", `permission denied for SCHEMA "materialize.app"`},
		{"create schema without CREATE on the database", `CREATE SCHEMA s2`, "42501", `permission denied for DATABASE "materialize"`},
		{"create cluster", `CREATE CLUSTER c SIZE '1'`, "42501", `permission denied for SYSTEM`},
		{"create role", `CREATE ROLE carol`, "42501", `permission denied for SYSTEM`},
		{"drop another's table", `DROP TABLE app.t`, "42501", `must be owner of TABLE materialize.app.t`},
		{"comment on another's schema", `COMMENT ON SCHEMA app IS 'x'`, "42501", `must be owner of SCHEMA materialize.app`},
		{"rename another's cluster", `ALTER CLUSTER quickstart RENAME TO q2`, "42501", `must be owner of CLUSTER quickstart`},
		{"grant on another's table", `GRANT SELECT ON app.t TO bob`, "42501", `must be owner of TABLE materialize.app.t`},
		{"default privileges for all roles", `ALTER DEFAULT PRIVILEGES FOR ALL ROLES GRANT SELECT ON TABLES TO bob`, "42501", `permission denied to ALTER DEFAULT PRIVILEGES FOR ALL ROLES`},
	}
	for _, tc := range denied {
		t.Run(tc.name, func(t *testing.T) {
			_, err := a.Exec(testCtx(t), tc.sql)
			wantErr(t, err, tc.code, tc.msg)
		})
	}

	mustExec(t, c, `GRANT USAGE ON SCHEMA app TO alice`)
	_, err = a.Exec(testCtx(t), `SELECT * FROM app.t`)
	wantErr(t, err, "42501", `permission denied for TABLE "materialize.app.t"`)
	_, err = a.Exec(testCtx(t), `INSERT INTO app.t VALUES (2)`)
	wantErr(t, err, "42501", `permission denied for TABLE "materialize.app.t"`)
	// A view reads with its owner's privileges.
	mustExec(t, c, `GRANT SELECT ON app.v TO alice`)
	if got := queryRows(t, a, `SELECT a FROM app.v`); !cmp.Equal(got, [][]string{{"1"}}) {
		t.Errorf("alice reads app.v = %v", got)
	}
	mustExec(t, c, `GRANT SELECT, INSERT ON TABLE app.t TO alice`)
	mustExec(t, a, `INSERT INTO app.t VALUES (2)`)
	if got := queryRows(t, a, `SELECT a FROM app.t ORDER BY a`); !cmp.Equal(got, [][]string{{"1"}, {"2"}}) {
		t.Errorf("alice reads app.t = %v", got)
	}
	ids := map[string]string{}
	for _, r := range queryRows(t, c, `SELECT name, id FROM mz_roles`) {
		ids[r[0]] = r[1]
	}
	al := ids["alice"]
	if got := queryRows(t, c, `SELECT t.owner_id, t.privileges::text FROM mz_tables t WHERE t.name = 't'`); !cmp.Equal(got, [][]string{{"u1", "{u1=arwd/u1," + al + "=ar/u1}"}}) {
		t.Errorf("mz_tables owner and privileges = %v", got)
	}
	_, err = c.Exec(testCtx(t), `GRANT UPDATE ON app.v TO alice`)
	wantErr(t, err, "XX000", `invalid privilege types UPDATE for VIEW "materialize.app.v"`)

	// Ownership passes with ALTER ... OWNER TO; the owner may then drop.
	mustExec(t, c, `ALTER SCHEMA app OWNER TO alice`)
	mustExec(t, a, `CREATE TABLE app.mine (a int)`, `COMMENT ON SCHEMA app IS 'alice''s'`, `DROP TABLE app.mine`)
	if got := queryRows(t, c, `SELECT owner_id, privileges::text FROM mz_schemas WHERE name = 'app'`); !cmp.Equal(got, [][]string{{al, "{" + al + "=UC/" + al + "}"}}) {
		t.Errorf("mz_schemas after OWNER TO = %v", got)
	}

	// Membership: bob inherits alice's privileges.
	b, err := connectAs(t, e, "bob")
	if err != nil {
		t.Fatalf("connect as bob: %v", err)
	}
	_, err = b.Exec(testCtx(t), `SELECT * FROM app.t`)
	wantErr(t, err, "42501", `permission denied for SCHEMA "materialize.app"`)
	mustExec(t, c, `GRANT alice TO bob`)
	if got := queryRows(t, c, `SELECT role_id, member, grantor FROM mz_role_members`); !cmp.Equal(got, [][]string{{al, ids["bob"], "u1"}}) {
		t.Errorf("mz_role_members = %v", got)
	}
	if got := queryRows(t, b, `SELECT count(*) FROM app.t`); !cmp.Equal(got, [][]string{{"2"}}) {
		t.Errorf("bob reads app.t = %v", got)
	}
	_, err = c.Exec(testCtx(t), `GRANT bob TO alice`)
	wantErr(t, err, "XX000", `role "bob" is a member of role "alice"`)

	// Default privileges apply to objects created later.
	mustExec(t, c, `ALTER DEFAULT PRIVILEGES FOR ROLE materialize IN SCHEMA app GRANT SELECT ON TABLES TO bob`)
	if got := queryRows(t, c, `SELECT role_id, schema_id IS NOT NULL, object_type, grantee, privileges FROM mz_default_privileges`); !cmp.Equal(got, [][]string{{"u1", "true", "table", ids["bob"], "r"}}) {
		t.Errorf("mz_default_privileges = %v", got)
	}
	mustExec(t, c, `CREATE TABLE app.t2 (a int)`)
	if got := queryRows(t, c, `SELECT privileges::text FROM mz_tables WHERE name = 't2'`); !cmp.Equal(got, [][]string{{"{u1=arwd/u1," + ids["bob"] + "=r/u1}"}}) {
		t.Errorf("privileges of a table created under default privileges = %v", got)
	}

	// A role that owns objects cannot be dropped.
	_, err = c.Exec(testCtx(t), `DROP ROLE alice`)
	wantErr(t, err, "2BP01", `role "alice" cannot be dropped because some objects depend on it`)
	mustExec(t, c, `REVOKE alice FROM bob`, `REVOKE SELECT ON app.t2 FROM bob`)
	if got := queryRows(t, c, `SELECT privileges::text FROM mz_tables WHERE name = 't2'`); !cmp.Equal(got, [][]string{{"{u1=arwd/u1}"}}) {
		t.Errorf("privileges after REVOKE = %v", got)
	}
	mustExec(t, c, `DROP ROLE IF EXISTS nobody`)
	_, err = c.Exec(testCtx(t), `DROP ROLE materialize`)
	wantErr(t, err, "", `cannot drop role "materialize"`)
	_, err = c.Exec(testCtx(t), `CREATE ROLE mz_x`)
	wantErr(t, err, "XX000", `role name "mz_x" is reserved`)
	_, err = c.Exec(testCtx(t), `CREATE ROLE alice`)
	wantErr(t, err, "XX000", `role 'alice' already exists`)
}
