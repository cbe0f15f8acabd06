package propose

import (
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"

	"github.com/mzsync/mzsync/internal/desired"
	"github.com/mzsync/mzsync/internal/drift"
	"github.com/mzsync/mzsync/internal/model"
)

const manifests = `
apiVersion: mzsync.dev/v1alpha1
kind: Source
metadata: {name: pg}
spec: {cluster: quickstart, postgres: {connection: pg_conn, publication: mz_source}}
---
apiVersion: mzsync.dev/v1alpha1
kind: Schema
metadata: {name: app}
spec: {active: v9, cluster: compute}
---
apiVersion: mzsync.dev/v1alpha1
kind: Version
metadata: {name: v9}
spec:
  schema: app
  tables:
    - {name: t, source: pg, reference: public.t, textColumns: [c]}
  views:
    - {name: mv, materialized: true, sql: "SELECT sum(a) AS total FROM t", cluster: other}
  indexes:
    - {on: mv, columns: [total]}
`

// TestNextRoundTrips proposes the version after a drifted v9: it must be
// named v10, decode and validate as a manifest, and hold the same objects
// (so the same digest) as v9.
func TestNextRoundTrips(t *testing.T) {
	des, err := desired.Load(fstest.MapFS{"m.yaml": {Data: []byte(manifests)}})
	if err != nil {
		t.Fatal(err)
	}
	rep := &drift.Report{Tables: []drift.Table{{
		Version: model.VersionID{Schema: "app", Version: "v9"}, Table: "t", Source: "pg",
		Upstream: model.UpstreamRef{Schema: "public", Table: "t"}, Severity: drift.Behind, NewColumns: []string{"b"},
	}}}
	files := Next(des, rep)
	if len(files) != 1 || files[0].Path != "app/v10.yaml" || files[0].Version.Version != "v10" {
		t.Fatalf("files = %+v", files)
	}
	both, err := desired.Load(fstest.MapFS{
		"m.yaml":       {Data: []byte(manifests)},
		"app/v10.yaml": {Data: files[0].Content},
	})
	if err != nil {
		t.Fatalf("the proposal does not load:\n%s\n%v", files[0].Content, err)
	}
	s := both.Schemas[0]
	v9, _ := s.Version("v9")
	v10, ok := s.Version("v10")
	if !ok {
		t.Fatal("v10 not declared by the proposal")
	}
	if diff := cmp.Diff(v9.Objects, v10.Objects); diff != "" {
		t.Fatalf("proposed objects differ from v9 (-v9 +v10):\n%s", diff)
	}
	if v9.Digest != v10.Digest {
		t.Fatal("same content must give the same digest")
	}
}

// TestNextPointsAtABuiltStagedVersion: after a rollback from v10 to v9,
// drift on v9 is already ingested by v10, declared and built: the
// proposal points at v10 rather than copying v9 into v11.
func TestNextPointsAtABuiltStagedVersion(t *testing.T) {
	des, err := desired.Load(fstest.MapFS{"m.yaml": {Data: []byte(manifests + `---
apiVersion: mzsync.dev/v1alpha1
kind: Version
metadata: {name: v10}
spec:
  schema: app
  tables:
    - {name: t, source: pg, reference: public.t}
  views:
    - {name: mv, materialized: true, sql: "SELECT sum(a) AS total FROM t"}
`)}})
	if err != nil {
		t.Fatal(err)
	}
	v10, _ := des.Schemas[0].Version("v10")
	rep := &drift.Report{Tables: []drift.Table{{
		Version: model.VersionID{Schema: "app", Version: "v9"}, Table: "t", Source: "pg",
		Upstream: model.UpstreamRef{Schema: "public", Table: "t"}, Severity: drift.Behind, NewColumns: []string{"b"},
	}}}
	observed := func(cols ...string) *model.Observed {
		var cs []model.Column
		for i, c := range cols {
			cs = append(cs, model.Column{Name: c, Position: i + 1})
		}
		return &model.Observed{Schemas: []model.ObservedSchema{{Name: "app_v10",
			Marker:  &model.SchemaMarker{Schema: "app", Version: "v10", Digest: v10.Digest, State: model.StateBuilt, Live: 2},
			Objects: []model.ObservedObject{{Name: "t", Kind: model.KindTable, Marker: &model.ObjectMarker{}, Columns: cs}}}}}
	}
	files := NextObserved(des, rep, observed("a", "b"))
	if len(files) != 1 || !files[0].Existing || files[0].Version.Version != "v10" || files[0].Path != "" {
		t.Fatalf("files = %+v, want a pointer at the built v10", files)
	}
	// v10 built before upstream added b does not ingest it: propose v11.
	files = NextObserved(des, rep, observed("a"))
	if len(files) != 1 || files[0].Existing || files[0].Version.Version != "v11" {
		t.Fatalf("files = %+v, want a new v11", files)
	}
}

func TestNextName(t *testing.T) {
	s := &model.Schema{Versions: []model.Version{
		{ID: model.VersionID{Version: "v1"}}, {ID: model.VersionID{Version: "v2"}}, {ID: model.VersionID{Version: "v3"}},
	}}
	if got := nextName(s, "v1"); got != "v4" {
		t.Errorf("after v1 with v3 declared: %s, want v4", got)
	}
	if got := nextName(&model.Schema{Versions: []model.Version{{ID: model.VersionID{Version: "blue"}}}}, "blue"); got != "blue_2" {
		t.Errorf("after blue: %s, want blue_2", got)
	}
}
