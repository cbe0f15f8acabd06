package reconcile

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/mzsync/mzsync/internal/model"
)

// accessFor gives every schema and object of c's catalog an owner (u1,
// the role mzsync runs as, unless owners says otherwise) and no other
// privilege; reader is u9.
func accessFor(c *simCatalog, owners map[string]string) *model.Access {
	a := &model.Access{Role: "mzsync", RoleID: "u1", MemberOf: []string{"u1"},
		RoleNames: map[string]string{"u1": "mzsync", "u9": "reader"},
		Database:  []string{"CREATE", "USAGE"},
		Clusters:  map[string][]string{"compute": {"CREATE", "USAGE"}, "ingest": {"CREATE", "USAGE"}},
		Schemas:   map[string]model.Grantable{}, Objects: map[string]model.Grantable{}}
	for _, s := range c.obs.Schemas {
		owner := "u1"
		if o, ok := owners[s.Name]; ok {
			owner = o
		}
		a.Schemas[s.ID] = model.Grantable{OwnerID: owner, Privileges: map[string][]string{owner: {"CREATE", "USAGE"}}}
		for _, o := range s.Objects {
			a.Objects[o.ID] = model.Grantable{OwnerID: owner, Privileges: map[string][]string{owner: {"SELECT"}}}
		}
	}
	return a
}

// TestGrantDriftRollback: grants declared after v1 and v2 were built are
// missing on both; the plan grants them on the live v2 and, for the
// rollback to v1, on v1 before the swap that makes it live.
func TestGrantDriftRollback(t *testing.T) {
	c := newSimCatalog(t)
	c.deploy(fxDesired("v1", 1, fxV1()), Options{})
	c.deploy(fxDesired("v2", 1, fxV1(), fxV2()), Options{})
	c.obs.Access = accessFor(c, nil)
	des := fxDesired("v1", 1, fxV1(), fxV2())
	des.Schemas[0].Grants = []model.Grant{{Role: "reader", Privileges: []string{"SELECT", "USAGE"}}}
	p, err := Diff(c.obs, des, Options{})
	if err != nil {
		t.Fatal(err)
	}
	grantAt, swapAt := map[string]int{}, -1
	for i, ch := range p.Changes {
		switch {
		case ch.Kind == KindGrant && ch.Op == OpCreate:
			grantAt[ch.Target] = i
			if ch.Target == "app_v1" && !slices.Contains(ch.SQL, `GRANT USAGE ON SCHEMA "app_v1" TO "reader"`) {
				t.Errorf("re-grant of app_v1: %q", ch.SQL)
			}
			if ch.Target == "app" && !slices.Contains(ch.SQL, `GRANT SELECT ON TABLE "app"."matview" TO "reader"`) {
				t.Errorf("re-grant of app: %q", ch.SQL)
			}
		case ch.Op == OpSwap:
			swapAt = i
		}
	}
	v1, okV1 := grantAt["app_v1"]
	_, okApp := grantAt["app"]
	if !okV1 || !okApp || swapAt < 0 || v1 > swapAt {
		t.Fatalf("re-grants %v, swap at %d: %+v", grantAt, swapAt, p.Changes)
	}

	// Once granted, nothing is left to do; a privilege beyond the
	// declaration is a drift finding, never revoked.
	for id, g := range c.obs.Access.Schemas {
		g.Privileges["u9"] = []string{"CREATE", "USAGE"}
		c.obs.Access.Schemas[id] = g
	}
	for id, g := range c.obs.Access.Objects {
		g.Privileges["u9"] = []string{"SELECT"}
		c.obs.Access.Objects[id] = g
	}
	drifts := GrantDrifts(c.obs, des)
	if len(drifts) != 2 || drifts[0].Missing || drifts[0].Privilege != "CREATE" {
		t.Fatalf("grant drift: %+v", drifts)
	}
	p, err = Diff(c.obs, des, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, ch := range p.Changes {
		if ch.Kind == KindGrant && ch.Op != OpDrift {
			t.Errorf("unexpected %s %s: %s", ch.Op, ch.Target, ch.Reason)
		}
		if ch.Kind == KindGrant && !strings.Contains(ch.Reason, "role reader holds CREATE") {
			t.Errorf("drift finding: %s", ch.Reason)
		}
	}
	if !p.Blocked() {
		t.Error("an undeclared privilege is not a finding")
	}
}

// TestPreflight: every missing privilege in one error; a member of the
// owner role holding the grants, and a superuser, pass.
func TestPreflight(t *testing.T) {
	c := newSimCatalog(t)
	c.deploy(fxDesired("v1", 1, fxV1()), Options{})
	des := fxDesired("v2", 1, fxV1(), fxV2())
	a := accessFor(c, map[string]string{"app": "u7"})
	a.Database = []string{"USAGE"}
	a.Clusters["compute"] = []string{"USAGE"}
	c.obs.Access = a
	p, err := Diff(c.obs, des, Options{})
	if err != nil {
		t.Fatal(err)
	}
	err = Preflight(c.obs, des, p)
	var pe *PrivilegeError
	if !errors.Is(err, ErrPrivileges) || !errors.As(err, &pe) {
		t.Fatalf("preflight: %v", err)
	}
	var got []string
	for _, m := range pe.Missing {
		got = append(got, m.Privilege+" "+m.ObjectType+" "+m.Object)
	}
	want := []string{`CREATE DATABASE "materialize"`, `OWNERSHIP SCHEMA "app"`, `CREATE CLUSTER "compute"`}
	if !slices.Equal(got, want) {
		t.Fatalf("missing %q, want %q", got, want)
	}
	for _, w := range []string{`GRANT CREATE ON CLUSTER "compute" TO "mzsync"`, `ownership of SCHEMA "app" (for the cutover to app/v2`} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("%q not in:\n%v", w, err)
		}
	}

	a.Database = []string{"CREATE", "USAGE"}
	a.Clusters["compute"] = []string{"CREATE"}
	a.MemberOf = append(a.MemberOf, "u7")
	if err := Preflight(c.obs, des, p); err != nil {
		t.Fatalf("with every privilege: %v", err)
	}
	a.MemberOf, a.Database = []string{"u1"}, nil
	a.Superuser = true
	if err := Preflight(c.obs, des, p); err != nil {
		t.Fatalf("as a superuser: %v", err)
	}
	c.obs.Access = nil
	if err := Preflight(c.obs, des, p); err != nil {
		t.Fatalf("without access facts: %v", err)
	}
}
