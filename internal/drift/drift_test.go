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
			Problems: []string{"Materialize stalled the table: incompatible schema change: source table t with oid 16384 has been altered"}}}},
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

// TestMaterializeFacts: what Materialize itself reports is checked with
// or without upstream access, and the upstream comparison catches what
// Materialize would stall the table for.
func TestMaterializeFacts(t *testing.T) {
	ref := model.UpstreamRef{Schema: "public", Table: "t"}
	vid := model.VersionID{Schema: "app", Version: "v1"}
	des := &model.Desired{
		Sources: []model.Source{{Name: "pg", Schema: "public", Publication: "mz_source", UpstreamURLEnv: "PG_URL"}},
		Schemas: []model.Schema{{Name: "app", Active: "v1"}},
	}
	obsWith := func(tbl model.ObservedObject, srcStatus, srcErr string, up *model.UpstreamState) *model.Observed {
		o := &model.Observed{
			Sources: []model.ObservedSource{{ID: "u1", Schema: "public", Name: "pg", Status: srcStatus, Error: srcErr}},
			Schemas: []model.ObservedSchema{{ID: "u2", Name: "app", Marker: &model.SchemaMarker{Schema: "app", Version: "v1"},
				Objects: []model.ObservedObject{tbl}}},
		}
		if up != nil {
			o.Upstream = map[string]model.UpstreamState{"pg": *up}
		} else {
			o.UpstreamErrors = map[string]string{"pg": "environment variable PG_URL is not set"}
		}
		return o
	}
	table := func(status, err string, cols ...model.Column) model.ObservedObject {
		return model.ObservedObject{ID: "u3", Kind: model.KindTable, Name: "t", SourceID: "u1", Reference: ref,
			Status: status, Error: err, Columns: cols, Keys: [][]string{{"a"}}}
	}
	intA := model.Column{Name: "a", Position: 1, Type: "integer", TypeOID: 23, TypeMod: -1}
	upOf := func(keys [][]string, cols ...model.UpstreamColumn) *model.UpstreamState {
		return &model.UpstreamState{Publication: "mz_source", PublicationExists: true, Tables: []model.UpstreamTable{{
			Ref: ref, InPublication: true, ReplicaIdentity: "full", Columns: cols, Keys: keys}}}
	}
	upA := model.UpstreamColumn{Name: "a", Attnum: 1, Type: "integer", TypeOID: 23, TypeMod: -1}
	keyA := [][]string{{"a"}}
	const broken = "incompatible schema change: source table t with oid 16390 has been altered"

	t.Run("stalled table without upstream access is breaking, and the schema unchecked", func(t *testing.T) {
		rep := Compute(obsWith(table("stalled", broken, intA), "running", "", nil), des)
		want := []Table{{Version: vid, Table: "t", Source: "pg", Upstream: ref, Severity: Breaking,
			Problems: []string{"Materialize stalled the table: " + broken}}}
		if diff := cmp.Diff(want, rep.Tables); diff != "" {
			t.Errorf("tables (-want +got):\n%s", diff)
		}
		wantU := []UncheckedSchema{{Schema: "app", Version: vid, Sources: []string{"pg: environment variable PG_URL is not set"}}}
		if diff := cmp.Diff(wantU, rep.UncheckedSchemas); diff != "" || rep.Complete() {
			t.Errorf("unchecked (-want +got):\n%s", diff)
		}
	})
	t.Run("in step but unchecked is not complete", func(t *testing.T) {
		rep := Compute(obsWith(table("running", "", intA), "running", "", nil), des)
		if rep.Found() || rep.Complete() || len(rep.UncheckedSchemas) != 1 {
			t.Errorf("report %+v: want nothing found and one unchecked schema", rep)
		}
	})
	t.Run("ceased (older servers) is breaking too", func(t *testing.T) {
		rep := Compute(obsWith(table("ceased", "gone", intA), "running", "", upOf(keyA, upA)), des)
		if !rep.Breaking() || !rep.Complete() {
			t.Errorf("report %+v", rep)
		}
	})
	t.Run("stalled source is a transient source problem, not drift", func(t *testing.T) {
		const perr = `publication "mz_source" does not exist`
		rep := Compute(obsWith(table("stalled", perr, intA), "stalled", perr, upOf(keyA, upA)), des)
		want := []SourceProblem{{Source: "pg", Status: "stalled", Error: perr, Tables: []string{"app/v1.t"}, Transient: true}}
		if diff := cmp.Diff(want, rep.SourceProblems); diff != "" || rep.Found() || rep.Complete() {
			t.Errorf("source problems (-want +got):\n%s\nreport %+v", diff, rep)
		}
	})
	cases := []struct {
		name string
		col  model.Column
		up   *model.UpstreamState
		want []string
	}{
		{"Materialize's time is PostgreSQL's time without time zone", model.Column{Name: "a", Position: 1, Type: "time", TypeOID: 1083, TypeMod: -1},
			upOf(keyA, model.UpstreamColumn{Name: "a", Attnum: 1, Type: "time without time zone", TypeOID: 1083, TypeMod: -1}), nil},
		{"names alone: time vs time without time zone", model.Column{Name: "a", Position: 1, Type: "time"},
			upOf(keyA, model.UpstreamColumn{Name: "a", Attnum: 1, Type: "time without time zone"}), nil},
		{"type modifier change", model.Column{Name: "a", Position: 1, Type: "character varying", TypeOID: 1043, TypeMod: 6},
			upOf(keyA, model.UpstreamColumn{Name: "a", Attnum: 1, Type: "character varying(20)", TypeOID: 1043, TypeMod: 24}),
			[]string{`ingested column "a" changed type modifier upstream: ingested as character varying(2), now character varying(20)`}},
		{"retype by OID", intA, upOf(keyA, model.UpstreamColumn{Name: "a", Attnum: 1, Type: "bigint", TypeOID: 20, TypeMod: -1}),
			[]string{`ingested column "a" changed type upstream: ingested as integer, now bigint`}},
		{"primary key dropped", intA, upOf(nil, upA),
			[]string{"primary key or unique constraint on (a) was dropped upstream"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rep := Compute(obsWith(table("running", "", tc.col), "running", "", tc.up), des)
			var got []string
			for _, tb := range rep.Tables {
				got = append(got, tb.Problems...)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("column dropped and re-added (new attnum) is named", func(t *testing.T) {
		tbl := table("running", "", intA,
			model.Column{Name: "b", Position: 2, Type: "text", TypeOID: 25, TypeMod: -1},
			model.Column{Name: "c", Position: 3, Type: "text", TypeOID: 25, TypeMod: -1})
		up := upOf(keyA, upA,
			model.UpstreamColumn{Name: "c", Attnum: 3, Type: "text", TypeOID: 25, TypeMod: -1},
			model.UpstreamColumn{Name: "b", Attnum: 4, Type: "text", TypeOID: 25, TypeMod: -1})
		rep := Compute(obsWith(tbl, "running", "", up), des)
		want := []string{`ingested column "b" was dropped and re-added upstream (it is now attnum 4, after columns it preceded)`}
		if len(rep.Tables) != 1 || !cmp.Equal(want, rep.Tables[0].Problems) {
			t.Errorf("report %+v, want %q", rep.Tables, want)
		}
	})
}

// TestPinnedBaseline: with the upstream description Materialize stored at
// creation (DETAILS), drift compares OIDs and attnums as Materialize does,
// so a re-created table and a re-added last column are caught too.
func TestPinnedBaseline(t *testing.T) {
	ref := model.UpstreamRef{Schema: "public", Table: "t"}
	des := &model.Desired{
		Sources: []model.Source{{Name: "pg", Schema: "public", Publication: "mz_source"}},
		Schemas: []model.Schema{{Name: "app", Active: "v1"}},
	}
	pinned := &model.PinnedUpstream{OID: 16385, Ref: ref, Columns: []model.UpstreamColumn{
		{Name: "a", Attnum: 1, TypeOID: 23, TypeMod: -1, Nullable: true},
		{Name: "b", Attnum: 2, TypeOID: 1043, TypeMod: -1, Nullable: true},
	}}
	tbl := model.ObservedObject{ID: "u3", Kind: model.KindTable, Name: "t", SourceID: "u1", Reference: ref, Pinned: pinned,
		Columns: []model.Column{
			{Name: "a", Position: 1, Type: "integer", Nullable: true, TypeOID: 23, TypeMod: -1},
			{Name: "b", Position: 2, Type: "character varying", Nullable: true, TypeOID: 1043, TypeMod: -1},
		}}
	obs := func(oid uint32, cols ...model.UpstreamColumn) *model.Observed {
		return &model.Observed{
			Sources: []model.ObservedSource{{ID: "u1", Schema: "public", Name: "pg"}},
			Schemas: []model.ObservedSchema{{ID: "u2", Name: "app", Marker: &model.SchemaMarker{Schema: "app", Version: "v1"},
				Objects: []model.ObservedObject{tbl}}},
			Upstream: map[string]model.UpstreamState{"pg": {Publication: "mz_source", PublicationExists: true, Tables: []model.UpstreamTable{{
				Ref: ref, OID: oid, InPublication: true, ReplicaIdentity: "full", Columns: cols}}}},
		}
	}
	upA := model.UpstreamColumn{Name: "a", Attnum: 1, Type: "integer", TypeOID: 23, TypeMod: -1, Nullable: true}
	upB := model.UpstreamColumn{Name: "b", Attnum: 2, Type: "character varying", TypeOID: 1043, TypeMod: -1, Nullable: true}
	cases := []struct {
		name string
		obs  *model.Observed
		want []string
	}{
		{"in step", obs(16385, upA, upB), nil},
		{"re-created with the same columns", obs(16999, upA, upB),
			[]string{"upstream table public.t was dropped and re-created (OID 16385 when ingested, now 16999)"}},
		{"last column dropped and re-added", obs(16385, upA, model.UpstreamColumn{Name: "b", Attnum: 3, Type: "character varying", TypeOID: 1043, TypeMod: -1, Nullable: true}),
			[]string{`ingested column "b" was dropped and re-added upstream (attnum 2 when ingested, now 3)`}},
		// Materialize compares the stored modifier exactly: varchar
		// becoming varchar(20) is a change (mz_columns alone, with no
		// modifier recorded, could not tell).
		{"modifier added", obs(16385, upA, model.UpstreamColumn{Name: "b", Attnum: 2, Type: "character varying(20)", TypeOID: 1043, TypeMod: 24, Nullable: true}),
			[]string{`ingested column "b" changed type modifier upstream: ingested as character varying (no modifier), now character varying(20)`}},
		{"re-created with other columns: no attnum noise", obs(17000, model.UpstreamColumn{Name: "b", Attnum: 1, Type: "character varying", TypeOID: 1043, TypeMod: -1, Nullable: true}, model.UpstreamColumn{Name: "a", Attnum: 2, Type: "integer", TypeOID: 23, TypeMod: -1, Nullable: true}),
			[]string{"upstream table public.t was dropped and re-created (OID 16385 when ingested, now 17000)"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rep := Compute(tc.obs, des)
			var got []string
			for _, tb := range rep.Tables {
				got = append(got, tb.Problems...)
				if tb.Severity != Breaking {
					t.Errorf("severity %s, want breaking", tb.Severity)
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
		})
	}
}

// TestNamesOnly: with Materialize's refreshed references standing in for
// an unreadable upstream, names are compared and the schema is reported
// as checked by names only, never as complete.
func TestNamesOnly(t *testing.T) {
	ref := model.UpstreamRef{Schema: "public", Table: "t"}
	vid := model.VersionID{Schema: "app", Version: "v1"}
	des := &model.Desired{
		Sources: []model.Source{{Name: "pg", Schema: "public", Publication: "mz_source", UpstreamURLEnv: "PG_URL"}},
		Schemas: []model.Schema{{Name: "app", Active: "v1"}},
	}
	tbl := model.ObservedObject{ID: "u3", Kind: model.KindTable, Name: "t", SourceID: "u1", Reference: ref, ExcludeColumns: []string{"x"},
		Columns: []model.Column{{Name: "a", Position: 1, Type: "integer"}, {Name: "b", Position: 2, Type: "text"}}}
	obs := func(refs ...model.SourceReference) *model.Observed {
		return &model.Observed{
			Sources: []model.ObservedSource{{ID: "u1", Schema: "public", Name: "pg"}},
			Schemas: []model.ObservedSchema{{ID: "u2", Name: "app", Marker: &model.SchemaMarker{Schema: "app", Version: "v1"},
				Objects: []model.ObservedObject{tbl}}},
			UpstreamErrors: map[string]string{"pg": "environment variable PG_URL is not set"},
			References:     map[string][]model.SourceReference{"pg": refs},
		}
	}
	wantNamesOnly := []UncheckedSchema{{Schema: "app", Version: vid,
		Sources: []string{"pg: environment variable PG_URL is not set; column names compared with REFRESH REFERENCES"}}}
	cases := []struct {
		name string
		obs  *model.Observed
		want []Table
	}{
		{"in step by name", obs(model.SourceReference{Ref: ref, Columns: []string{"a", "b", "x"}}), []Table{}},
		{"new column", obs(model.SourceReference{Ref: ref, Columns: []string{"a", "b", "x", "c"}}), []Table{{
			Version: vid, Table: "t", Source: "pg", Upstream: ref, Severity: Behind, NewColumns: []string{"c"}}}},
		{"ingested column gone", obs(model.SourceReference{Ref: ref, Columns: []string{"a", "b2"}}), []Table{{
			Version: vid, Table: "t", Source: "pg", Upstream: ref, Severity: Breaking, NewColumns: []string{"b2"},
			Problems: []string{`ingested column "b" was dropped or renamed upstream (per REFRESH REFERENCES)`}}}},
		{"table gone from the publication", obs(model.SourceReference{Ref: model.UpstreamRef{Schema: "public", Table: "u"}, Columns: []string{"a"}}), []Table{{
			Version: vid, Table: "t", Source: "pg", Upstream: ref, Severity: Breaking,
			Problems: []string{"upstream table public.t is not in the source's publication any more (dropped, renamed or removed from it, per REFRESH REFERENCES)"}}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rep := Compute(tc.obs, des)
			if diff := cmp.Diff(tc.want, rep.Tables); diff != "" {
				t.Errorf("tables (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(wantNamesOnly, rep.NamesOnlySchemas); diff != "" {
				t.Errorf("names-only schemas (-want +got):\n%s", diff)
			}
			if len(rep.UncheckedSchemas) != 0 || rep.Complete() {
				t.Errorf("unchecked %+v, complete %v: want none and not complete", rep.UncheckedSchemas, rep.Complete())
			}
		})
	}
}

func TestWithModifier(t *testing.T) {
	for _, tc := range []struct {
		name string
		oid  uint32
		mod  int32
		want string
	}{
		{"character varying", 1043, 24, "character varying(20)"},
		{"numeric", 1700, 5<<16 | 2 + 4, "numeric(5,2)"},
		{"timestamp with time zone", 1184, 3, "timestamp(3) with time zone"},
		{"integer", 23, -1, "integer (no modifier)"},
		{"mytype", 99999, 7, "mytype with modifier 7"},
	} {
		if got := withModifier(tc.name, tc.oid, tc.mod); got != tc.want {
			t.Errorf("withModifier(%q, %d, %d) = %q, want %q", tc.name, tc.oid, tc.mod, got, tc.want)
		}
	}
}
