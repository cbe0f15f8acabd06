package drift

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mzsync/mzsync/internal/model"
)

func TestCompute(t *testing.T) {
	ref := model.UpstreamRef{Schema: "public", Table: "t"}
	des := &model.Desired{
		Sources: []model.Source{{Name: "pg", Schema: "public", Publication: "mz_source"}},
		Schemas: []model.Schema{{Name: "app", Active: "v1"}},
	}
	baseObs := func(tbl model.ObservedObject, up model.UpstreamState) *model.Observed {
		return &model.Observed{
			Sources: []model.ObservedSource{{ID: "u1", Schema: "public", Name: "pg"}},
			Schemas: []model.ObservedSchema{{
				ID: "u2", Name: "app",
				Marker:  &model.SchemaMarker{Schema: "app", Version: "v1"},
				Objects: []model.ObservedObject{tbl},
			}},
			Upstream: map[string]model.UpstreamState{"pg": up},
		}
	}
	tableA := model.ObservedObject{ID: "u3", Kind: model.KindTable, Name: "t", SourceID: "u1", Reference: ref,
		Columns: []model.Column{{Name: "a", Position: 1, Type: "integer", Nullable: true}}}
	upTable := func(cols ...model.UpstreamColumn) model.UpstreamState {
		return model.UpstreamState{Publication: "mz_source", PublicationExists: true, Tables: []model.UpstreamTable{{
			Ref: ref, InPublication: true, ReplicaIdentity: "full", Columns: cols,
		}}}
	}
	colA := model.UpstreamColumn{Name: "a", Attnum: 1, Type: "integer", Nullable: true}
	colB := model.UpstreamColumn{Name: "b", Attnum: 2, Type: "boolean", Nullable: true}
	vid := model.VersionID{Schema: "app", Version: "v1"}

	tests := []struct {
		name string
		obs  *model.Observed
		want []Table
	}{
		{"in step", baseObs(tableA, upTable(colA)), []Table{}},
		{"upstream added a column: behind", baseObs(tableA, upTable(colA, colB)), []Table{{
			Version: vid, Table: "t", Source: "pg", Upstream: ref, Severity: Behind, NewColumns: []string{"b"}}}},
		{"ingested column dropped: breaking", baseObs(tableA, upTable(colB)), []Table{{
			Version: vid, Table: "t", Source: "pg", Upstream: ref, Severity: Breaking, NewColumns: []string{"b"},
			Problems: []string{`ingested column "a" was dropped or renamed upstream`}}}},
		{"ingested column retyped: breaking", baseObs(tableA, upTable(model.UpstreamColumn{Name: "a", Attnum: 1, Type: "bigint", Nullable: true})), []Table{{
			Version: vid, Table: "t", Source: "pg", Upstream: ref, Severity: Breaking,
			Problems: []string{`ingested column "a" changed type upstream: ingested as integer, now bigint`}}}},
		{"table left the publication", baseObs(tableA, func() model.UpstreamState {
			u := upTable(colA)
			u.Tables[0].InPublication = false
			return u
		}()), []Table{{Version: vid, Table: "t", Source: "pg", Upstream: ref, Severity: Breaking,
			Problems: []string{`upstream table public.t left publication "mz_source"`}}}},
		{"replica identity default", baseObs(tableA, func() model.UpstreamState {
			u := upTable(colA)
			u.Tables[0].ReplicaIdentity = "default"
			return u
		}()), []Table{{Version: vid, Table: "t", Source: "pg", Upstream: ref, Severity: Breaking,
			Problems: []string{`upstream table public.t has REPLICA IDENTITY DEFAULT, not FULL`}}}},
		{"stalled in Materialize", baseObs(func() model.ObservedObject {
			o := tableA
			o.Status, o.Error = "stalled", "incompatible schema change: source table t with oid 16384 has been altered"
			return o
		}(), upTable(colA)), []Table{{Version: vid, Table: "t", Source: "pg", Upstream: ref, Severity: Breaking,
			Problems: []string{"Materialize stalled ingesting the table: incompatible schema change: source table t with oid 16384 has been altered"}}}},
		{"text column retyped is harmless", baseObs(func() model.ObservedObject {
			o := tableA
			o.TextColumns = []string{"a"}
			o.Columns = []model.Column{{Name: "a", Position: 1, Type: "text", Nullable: true}}
			return o
		}(), upTable(model.UpstreamColumn{Name: "a", Attnum: 1, Type: "character varying(20)", Nullable: true})), []Table{}},
		{"excluded column is not new", baseObs(func() model.ObservedObject {
			o := tableA
			o.ExcludeColumns = []string{"b"}
			return o
		}(), upTable(colA, colB)), []Table{}},
		{"upstream table dropped", baseObs(tableA, model.UpstreamState{Publication: "mz_source", PublicationExists: true}), []Table{{
			Version: vid, Table: "t", Source: "pg", Upstream: ref, Severity: Breaking,
			Problems: []string{"upstream table public.t was dropped or renamed"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Compute(tt.obs, des)
			if diff := cmp.Diff(tt.want, got.Tables); diff != "" {
				t.Fatalf("drift (-want +got):\n%s", diff)
			}
			if got.Found() != (len(tt.want) > 0) {
				t.Fatalf("Found() = %v", got.Found())
			}
		})
	}
}

func TestComputeIgnoresRetiredVersionsAndReportsUnchecked(t *testing.T) {
	des := &model.Desired{
		Sources: []model.Source{{Name: "pg", Schema: "public"}, {Name: "other", Schema: "public"}},
		Schemas: []model.Schema{{Name: "app", Active: "v2"}},
	}
	obs := &model.Observed{
		Sources: []model.ObservedSource{{ID: "u1", Schema: "public", Name: "pg"}},
		Schemas: []model.ObservedSchema{{
			// A retired version schema: not what consumers read, so not drift.
			Name: "app_v1", Marker: &model.SchemaMarker{Schema: "app", Version: "v1"},
			Objects: []model.ObservedObject{{Kind: model.KindTable, Name: "t", SourceID: "u1",
				Reference: model.UpstreamRef{Schema: "public", Table: "gone"}}},
		}},
		Upstream: map[string]model.UpstreamState{"pg": {PublicationExists: true}},
	}
	rep := Compute(obs, des)
	if rep.Found() {
		t.Fatalf("retired version reported as drift: %+v", rep.Tables)
	}
	if diff := cmp.Diff([]string{"other"}, rep.Unchecked); diff != "" {
		t.Fatalf("unchecked (-want +got):\n%s", diff)
	}
}
