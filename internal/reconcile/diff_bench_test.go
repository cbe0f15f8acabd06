package reconcile

import (
	"fmt"
	"testing"
	"time"

	"github.com/mzsync/mzsync/internal/model"
)

// benchState builds a deployed catalog of nSchemas schemas with nVersions
// versions of nObjects objects each (every version built, the last one
// live), and the matching desired state, so Diff walks every object.
func benchState(nSchemas, nVersions, nObjects int) (*model.Observed, *model.Desired) {
	obs := &model.Observed{Fingerprint: "bench",
		Sources:  []model.ObservedSource{{ID: "u1", Schema: "public", Name: "pg", Marker: &model.ObjectMarker{Digest: "sha256:pg"}}},
		Clusters: []model.Cluster{{ID: "u1", Name: "compute", Replicas: []model.Replica{{ID: "u1", Name: "r1", Status: "online"}}}},
	}
	des := &model.Desired{Revision: "bench", Sources: []model.Source{{Name: "pg", Schema: "public", Digest: "sha256:pg"}}}
	id := 1
	lag := 100 * time.Millisecond
	for s := range nSchemas {
		name := fmt.Sprintf("s%03d", s)
		sch := model.Schema{Name: name, Retain: nVersions, Readiness: model.Readiness{MaxLag: time.Second}}
		for v := range nVersions {
			vid := model.VersionID{Schema: name, Version: fmt.Sprintf("v%d", v+1)}
			ver := model.Version{ID: vid, Digest: "sha256:" + vid.String()}
			os := model.ObservedSchema{Name: vid.BuildSchema(), Marker: &model.SchemaMarker{Schema: name, Version: vid.Version, Digest: ver.Digest, State: model.StateBuilt, Live: v + 1}}
			if v == nVersions-1 {
				os.Name = name
			}
			id++
			os.ID = fmt.Sprintf("u%d", id)
			for o := range nObjects {
				ob := model.Object{Name: fmt.Sprintf("o%02d", o), Digest: fmt.Sprintf("sha256:%s.%d", vid, o)}
				oo := model.ObservedObject{Name: ob.Name, Marker: &model.ObjectMarker{Digest: ob.Digest},
					SnapshotCommitted: true, Status: "running", Hydrated: true, Lag: &lag}
				switch {
				case o < nObjects/2:
					ob.Kind, ob.Source, ob.Reference = model.KindTable, model.Ref{Schema: "public", Name: "pg"}, model.UpstreamRef{Schema: "public", Table: ob.Name}
					oo.SourceID, oo.Reference = "u1", ob.Reference
				default:
					ob.Kind, ob.SQL, ob.Cluster = model.KindMaterializedView, "SELECT 1", "compute"
					oo.Cluster = "compute"
				}
				oo.Kind = ob.Kind
				id++
				oo.ID = fmt.Sprintf("u%d", id)
				ver.Objects = append(ver.Objects, ob)
				os.Objects = append(os.Objects, oo)
			}
			sch.Versions = append(sch.Versions, ver)
			obs.Schemas = append(obs.Schemas, os)
		}
		sch.Active = sch.Versions[nVersions-1].ID.Version
		des.Schemas = append(des.Schemas, sch)
	}
	return obs, des
}

// BenchmarkDiff diffs 10,000 objects (200 schemas x 5 versions x 10
// objects) that are all in place, the daemon's steady state.
func BenchmarkDiff(b *testing.B) {
	obs, des := benchState(200, 5, 10)
	p, err := Diff(obs, des, Options{})
	if err != nil || len(p.Changes) != 0 {
		b.Fatalf("steady state must plan empty: %v %d changes", err, len(p.Changes))
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Diff(obs, des, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDiffBuildAll diffs the same desired state against an empty
// catalog: every version is planned, 10,000 objects of SQL.
func BenchmarkDiffBuildAll(b *testing.B) {
	_, des := benchState(200, 5, 10)
	obs := &model.Observed{Sources: []model.ObservedSource{{ID: "u1", Schema: "public", Name: "pg", Marker: &model.ObjectMarker{Digest: "sha256:pg"}}}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Diff(obs, des, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}
