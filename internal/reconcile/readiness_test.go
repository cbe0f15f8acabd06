package reconcile

import (
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mzsync/mzsync/internal/model"
)

func TestReadiness(t *testing.T) {
	des := fxDesired("v1", 0, fxV1())
	schema := &des.Schemas[0]
	v := &schema.Versions[0]
	dur := func(d time.Duration) *time.Duration { return &d }
	tests := []struct {
		name   string
		mutate func(c *simCatalog)
		want   VersionReadiness
	}{
		{
			name: "everything committed, hydrated and within lag is ready",
			want: VersionReadiness{Version: v.ID, Schema: "app", Ready: true, ReadyObjects: 3, Total: 3, Pending: []Pending{}},
		},
		{
			name: "a version without a schema is not built",
			mutate: func(c *simCatalog) {
				c.obs.Schemas = slices.DeleteFunc(c.obs.Schemas, func(s model.ObservedSchema) bool { return s.Name == "app" })
			},
			want: VersionReadiness{Version: v.ID, Total: 3, Pending: []Pending{{Target: "app/v1", Kind: "version", Reasons: []string{"not built"}}}},
		},
		{
			name: "snapshot, status, hydration and lag each hold a version back",
			mutate: func(c *simCatalog) {
				tb := c.object("app", "t")
				tb.SnapshotCommitted, tb.Status, tb.Error = false, "stalled", "publication missing"
				mv := c.object("app", "matview")
				mv.Hydrated = false
				c.object("app", "matview_total_idx").Lag = dur(3 * time.Second)
			},
			want: VersionReadiness{Version: v.ID, Schema: "app", Total: 3, Pending: []Pending{
				{Target: "app.t", Kind: "table", Reasons: []string{"snapshot not committed", "status stalled: publication missing"}},
				{Target: "app.matview", Kind: "materialized-view", Reasons: []string{"not hydrated"}},
				{Target: "app.matview_total_idx", Kind: "index", Reasons: []string{"lag 3s > 1s"}},
			}},
		},
		{
			name: "a table stalled by an incompatible schema change is broken, not pending",
			mutate: func(c *simCatalog) {
				tb := c.object("app", "t")
				tb.Status, tb.Error = "stalled", "incompatible schema change: source table t with oid 1 has been altered"
			},
			want: VersionReadiness{Version: v.ID, Schema: "app", ReadyObjects: 2, Total: 3, Pending: []Pending{
				{Target: "app.t", Kind: "table", Reasons: []string{"broken, status stalled: incompatible schema change: source table t with oid 1 has been altered"}},
			}, Broken: []string{"table app.t is stalled: incompatible schema change: source table t with oid 1 has been altered"}},
		},
		{
			name: "a stalled source is a source problem: pending, not broken",
			mutate: func(c *simCatalog) {
				tb := c.object("app", "t")
				tb.Status, tb.Error = "stalled", "slot overcompacted"
				for i := range c.obs.Sources {
					if c.obs.Sources[i].ID == tb.SourceID {
						c.obs.Sources[i].Status, c.obs.Sources[i].Error = "stalled", "slot overcompacted"
					}
				}
			},
			want: VersionReadiness{Version: v.ID, Schema: "app", ReadyObjects: 2, Total: 3, Pending: []Pending{
				{Target: "app.t", Kind: "table", Reasons: []string{"source public.pg stalled (a source problem, possibly transient): slot overcompacted"}},
			}},
		},
		{
			name: "unknown status and unknown lag are not ready",
			mutate: func(c *simCatalog) {
				c.object("app", "t").Status = ""
				c.object("app", "matview").Lag = nil
			},
			want: VersionReadiness{Version: v.ID, Schema: "app", ReadyObjects: 1, Total: 3, Pending: []Pending{
				{Target: "app.t", Kind: "table", Reasons: []string{"status unknown"}},
				{Target: "app.matview", Kind: "materialized-view", Reasons: []string{"lag unknown (Materialize reports lag once a full minute after hydration has passed)"}},
			}},
		},
		{
			name: "a dropped object is not created",
			mutate: func(c *simCatalog) {
				c.dropObject("app", "matview_total_idx")
			},
			want: VersionReadiness{Version: v.ID, Schema: "app", ReadyObjects: 2, Total: 3, Pending: []Pending{
				{Target: "app.matview_total_idx", Kind: "index", Reasons: []string{"not created"}},
			}},
		},
		{
			name: "a cluster without a healthy replica holds the version back",
			mutate: func(c *simCatalog) {
				c.obs.Clusters[0].Replicas[0].Status = "offline"
			},
			want: VersionReadiness{Version: v.ID, Schema: "app", ReadyObjects: 3, Total: 3, Pending: []Pending{
				{Target: "cluster compute", Kind: "cluster", Reasons: []string{"cluster compute has no healthy replica"}},
			}},
		},
		{
			name: "a replica whose status is not reported counts as healthy",
			mutate: func(c *simCatalog) {
				c.obs.Clusters[0].Replicas[0].Status = ""
			},
			want: VersionReadiness{Version: v.ID, Schema: "app", Ready: true, ReadyObjects: 3, Total: 3, Pending: []Pending{}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newSimCatalog(t).deploy(des, Options{})
			if tt.mutate != nil {
				tt.mutate(c)
			}
			got := Readiness(c.obs, v, schema)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("readiness (-want +got):\n%s", diff)
			}
		})
	}
}

func TestReadinessWithoutMaxLagIgnoresLag(t *testing.T) {
	des := fxDesired("v1", 0, fxV1())
	c := newSimCatalog(t).deploy(des, Options{})
	c.object("app", "matview").Lag = nil
	s := des.Schemas[0]
	s.Readiness.MaxLag = 0
	if got := Readiness(c.obs, &s.Versions[0], &s); !got.Ready {
		t.Errorf("not ready without a lag bound: %+v", got.Pending)
	}
}

// TestWaitOmittedOnlyWhenReady: a built, ready version is cut over without
// a wait; one that is built but not ready gets a wait before its swap.
func TestWaitOmittedOnlyWhenReady(t *testing.T) {
	c := newSimCatalog(t).deploy(fxDesired("v1", 1, fxV1()), Options{})
	buildOnly(c, fxDesired("v2", 1, fxV1(), fxV2()))
	c.object("app_v2", "matview").Hydrated = false
	des := fxDesired("v2", 1, fxV1(), fxV2())
	p, _ := Diff(c.obs, des, Options{})
	if diff := cmp.Diff([]string{"wait version app/v2", "swap schema app/v2", "comment schema app"}, lines(p)); diff != "" {
		t.Errorf("not ready (-want +got):\n%s", diff)
	}
	c.object("app_v2", "matview").Hydrated = true
	p, _ = Diff(c.obs, des, Options{})
	if diff := cmp.Diff([]string{"swap schema app/v2", "comment schema app"}, lines(p)); diff != "" {
		t.Errorf("ready (-want +got):\n%s", diff)
	}
}

// TestReadinessLagModelAndClusterHealth: lag is compared in whole
// seconds, as Materialize reports it; a cluster with no replica, or whose
// every replica was OOM-killed three or more times in the last day, is
// unhealthy with that reason.
func TestReadinessLagModelAndClusterHealth(t *testing.T) {
	des := fxDesired("v1", 0, fxV1())
	s := des.Schemas[0]
	s.Readiness.MaxLag = 1500 * time.Millisecond // compared as 1s
	dur := func(d time.Duration) *time.Duration { return &d }
	reasons := func(mutate func(c *simCatalog)) []string {
		c := newSimCatalog(t).deploy(des, Options{})
		mutate(c)
		var out []string
		for _, p := range Readiness(c.obs, &s.Versions[0], &s).Pending {
			out = append(out, p.Target+": "+p.Reasons[0])
		}
		return out
	}
	tests := []struct {
		name   string
		mutate func(c *simCatalog)
		want   []string
	}{
		{"1s of lag under a 1.5s bound is ready", func(c *simCatalog) { c.object("app", "matview").Lag = dur(time.Second) }, nil},
		{"2s of lag is over it", func(c *simCatalog) { c.object("app", "matview").Lag = dur(2 * time.Second) },
			[]string{"app.matview: lag 2s > 1s"}},
		{"NULL lag after hydration is unknown, not ready", func(c *simCatalog) { c.object("app", "matview").Lag = nil },
			[]string{"app.matview: lag unknown (Materialize reports lag once a full minute after hydration has passed)"}},
		{"a cluster without replicas", func(c *simCatalog) { c.obs.Clusters[0].Replicas = nil },
			[]string{"cluster compute: cluster compute has no replica"}},
		{"every replica OOM-killed 3 times", func(c *simCatalog) {
			c.obs.Clusters[0].Replicas = []model.Replica{{ID: "r1", Name: "r1", Status: "online", OOMKills: 3}, {ID: "r2", Name: "r2", Status: "online", OOMKills: 5}}
		}, []string{"cluster compute: cluster compute is unhealthy: every replica was OOM-killed 3 or more times in the last day"}},
		{"one replica still healthy", func(c *simCatalog) {
			c.obs.Clusters[0].Replicas = []model.Replica{{ID: "r1", Name: "r1", Status: "online", OOMKills: 3}, {ID: "r2", Name: "r2", Status: "online", OOMKills: 2}}
		}, nil},
		{"the only healthy-by-OOM replica is offline", func(c *simCatalog) {
			c.obs.Clusters[0].Replicas = []model.Replica{{ID: "r1", Name: "r1", Status: "online", OOMKills: 3}, {ID: "r2", Name: "r2", Status: "offline"}}
		}, []string{"cluster compute: cluster compute has no healthy replica"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, reasons(tc.mutate)); diff != "" {
				t.Errorf("pending (-want +got):\n%s", diff)
			}
		})
	}
}
