package observed

import (
	"context"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mzsync/mzsync/internal/mzemu/mzemutest"
)

func TestParseACL(t *testing.T) {
	got, err := ParseACL(`{u1=arwd/u1,=r/u1,"u2=UC/u1",u2=r/u3}`)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{"u1": {"DELETE", "INSERT", "SELECT", "UPDATE"}, "": {"SELECT"}, "u2": {"CREATE", "SELECT", "USAGE"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("ParseACL (-want +got):\n%s", diff)
	}
	if _, err := ParseACL(`{u1=x/u1}`); err == nil {
		t.Fatal("an unknown privilege letter parsed")
	}
}

// TestReadAccess: the role's privileges come from Materialize's privilege
// functions (PUBLIC and memberships count), owners and explicit privileges
// from the catalog.
func TestReadAccess(t *testing.T) {
	env := mzemutest.New(t)
	env.MaterializeExec(
		`CREATE ROLE deployer`, `CREATE ROLE ops`, `GRANT ops TO deployer`,
		`CREATE CLUSTER build SIZE '1'`, `CREATE CLUSTER other SIZE '1'`,
		`GRANT CREATE ON CLUSTER build TO ops`,
		`CREATE SCHEMA app`, `CREATE TABLE app.t (a int)`, `GRANT SELECT ON app.t TO deployer`,
		`ALTER SCHEMA app OWNER TO ops`,
	)
	u, err := url.Parse(env.MaterializeURL)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.User("deployer")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := Connect(ctx, u.String(), "read the Materialize catalog")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	cq := &CountingQuerier{Q: conn}
	a, err := ReadAccess(ctx, cq)
	if err != nil {
		t.Fatal(err)
	}
	if cq.Requests() != 1 {
		t.Errorf("requests = %d, want 1 batch", cq.Requests())
	}
	opsID := a.RoleIDOf("ops")
	if a.Role != "deployer" || a.Superuser || a.RoleID == "" || !slices.Contains(a.MemberOf, opsID) {
		t.Fatalf("role: %+v", a)
	}
	if diff := cmp.Diff([]string{"USAGE"}, a.Database); diff != "" {
		t.Errorf("database privileges (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string][]string{"build": {"CREATE"}, "other": nil, "quickstart": {"USAGE"}}, a.Clusters); diff != "" {
		t.Errorf("cluster privileges (-want +got):\n%s", diff)
	}
	var appID string
	for id, g := range a.Schemas {
		if g.OwnerID == opsID {
			appID = id
		}
	}
	if appID == "" || !a.Owns(a.Schemas[appID].OwnerID) {
		t.Fatalf("the schema owned by ops (a role deployer is a member of) is not deployer's: %+v", a.Schemas)
	}
	found := false
	for _, g := range a.Objects {
		if slices.Contains(g.Privileges[a.RoleID], "SELECT") {
			found = a.HoldsACL(g, "SELECT") && !a.HoldsACL(g, "INSERT") && !a.Owns(g.OwnerID)
		}
	}
	if !found {
		t.Fatalf("no object with deployer's SELECT grant: %+v", a.Objects)
	}
}
