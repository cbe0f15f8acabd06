package reconcile

import (
	"bytes"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/mzsync/mzsync/internal/golden"
	"github.com/mzsync/mzsync/internal/model"
)

func TestStatus(t *testing.T) {
	// v1 retained at app_v1, v2 live under app, v3 staged at app_v3.
	deployed := func(t *testing.T) *simCatalog {
		return newSimCatalog(t).
			deploy(fxDesired("v1", 1, fxV1()), Options{}).
			deploy(fxDesired("v2", 1, fxV1(), fxV2(), fxV3()), Options{})
	}
	des := fxDesired("v2", 1, fxV1(), fxV2(), fxV3())
	type summary struct {
		Alias, Active, DesiredActive string
		Retained, Staged             []string
		Roles                        []string // version=role@schema ready
		Drift                        []string
		Unowned                      []string
	}
	sum := func(s SchemaStatus) summary {
		out := summary{Alias: s.Alias, Active: s.Active, DesiredActive: s.DesiredActive, Retained: s.Retained, Staged: s.Staged}
		for _, v := range s.Versions {
			r := "ready"
			if !v.Readiness.Ready {
				r = "not-ready"
			}
			out.Roles = append(out.Roles, v.Version+"="+v.Role+"@"+v.Schema+" "+r)
		}
		for _, d := range s.Drift {
			out.Drift = append(out.Drift, d.Target+": "+d.Reason)
		}
		out.Unowned = s.Unowned
		return out
	}
	tests := []struct {
		name   string
		mutate func(c *simCatalog)
		des    *model.Desired
		want   map[string]summary
	}{
		{
			name: "active, retained and staged versions with their readiness",
			des:  des,
			want: map[string]summary{"app": {Alias: "owned", Active: "v2", DesiredActive: "v2",
				Retained: []string{"v1"}, Staged: []string{"v3"},
				Roles: []string{"v1=retained@app_v1 ready", "v2=active@app ready", "v3=staged@app_v3 ready"}}},
		},
		{
			name: "without manifests the catalog alone says what is where",
			des:  nil,
			want: map[string]summary{"app": {Alias: "owned", Active: "v2",
				Retained: []string{"v1"}, Staged: []string{"v3"},
				Roles: []string{"v1=retained@app_v1 ready", "v2=active@app ready", "v3=staged@app_v3 ready"}}},
		},
		{
			name: "drift, unowned objects and a version still hydrating",
			des:  des,
			mutate: func(c *simCatalog) {
				mustExec(c, `COMMENT ON TABLE "app"."u" IS 'mzsync:v1 digest=sha256:edited'`)
				mustExec(c, `CREATE VIEW "app_v1"."mine" AS SELECT 1`)
				c.object("app_v3", "matview").Hydrated = false
			},
			want: map[string]summary{"app": {Alias: "owned", Active: "v2", DesiredActive: "v2",
				Retained: []string{"v1"}, Staged: []string{"v3"},
				Roles:   []string{"v1=retained@app_v1 ready", "v2=active@app ready", "v3=staged@app_v3 not-ready"},
				Drift:   []string{"app.u: digest sha256:edited, declared sha256:v2.u: altered by hand"},
				Unowned: []string{"app_v1.mine"}}},
		},
		{
			name: "a declared version not built yet, and one no longer declared",
			des:  fxDesired("v3", 0, fxV2(), fxV3(), versionV("v4", fxTable("t", "t"))),
			want: map[string]summary{"app": {Alias: "owned", Active: "v2", DesiredActive: "v3",
				Retained: []string{}, Staged: []string{"v3"},
				Roles: []string{"v2=active@app ready", "v3=staged@app_v3 ready", "v4=not-built@ not-ready", "v1=undeclared@app_v1 ready"}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := deployed(t)
			if tt.mutate != nil {
				tt.mutate(c)
			}
			r := Status(c.obs, tt.des)
			got := map[string]summary{}
			for _, s := range r.Schemas {
				got[s.Name] = sum(s)
			}
			if diff := cmp.Diff(tt.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("status (-want +got):\n%s", diff)
			}
		})
	}
}

func TestStatusRenderGolden(t *testing.T) {
	c := newSimCatalog(t).
		deploy(fxDesired("v1", 1, fxV1()), Options{}).
		deploy(fxDesired("v2", 1, fxV1(), fxV2(), fxV3()), Options{})
	mustExec(c, `CREATE VIEW "app_v1"."mine" AS SELECT 1`)
	c.object("app_v3", "matview").Hydrated = false
	mustExec(c, `CREATE SCHEMA "old_v1"`)
	mustExec(c, `COMMENT ON SCHEMA "old_v1" IS 'mzsync:v1 schema=old version=v1 digest=sha256:x'`)
	mustExec(c, `CREATE SCHEMA "mzsync_trash_0123456789abcdef_app_v0"`)
	mustExec(c, `COMMENT ON SCHEMA "mzsync_trash_0123456789abcdef_app_v0" IS 'mzsync:v1 schema=app version=v0 digest=sha256:v0 state=built live=1'`)
	c.obs.Lease = &model.Lease{Owner: "ci-runner-7", Expires: time.Date(2026, 12, 2, 15, 4, 5, 0, time.UTC), Token: "0123456789abcdef"}
	c.fingerprint()
	r := Status(c.obs, fxDesired("v2", 1, fxV1(), fxV2(), fxV3()))
	var txt, js bytes.Buffer
	if err := RenderStatusText(&txt, r); err != nil {
		t.Fatal(err)
	}
	if err := RenderStatusJSON(&js, r); err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "status/status.txt", txt.Bytes())
	golden.Check(t, "status/status.json", js.Bytes())
}
