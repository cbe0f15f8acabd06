package observed

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"github.com/mzsync/mzsync/internal/model"
	"github.com/mzsync/mzsync/internal/pgtest"
)

// upstreamDB creates a fresh upstream database with the given setup.
func upstreamDB(t *testing.T, setup string) string {
	t.Helper()
	url := pgtest.NewDatabase(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, setup); err != nil {
		t.Fatalf("upstream setup: %v", err)
	}
	return url
}

const upstreamSetup = `
CREATE SCHEMA other;
CREATE TABLE public.t (
  id int PRIMARY KEY,
  name varchar(20) NOT NULL,
  amount numeric(10,2),
  note text,
  UNIQUE (name, amount));
ALTER TABLE public.t REPLICA IDENTITY FULL;
ALTER TABLE public.t DROP COLUMN note;
ALTER TABLE public.t ADD COLUMN flag boolean;
CREATE TABLE public.u (x bigint);
CREATE TABLE other.v (k text NOT NULL);
CREATE UNIQUE INDEX v_k ON other.v (k);
ALTER TABLE other.v REPLICA IDENTITY USING INDEX v_k;
CREATE TABLE public."Mixed Case" (c int);
ALTER TABLE public."Mixed Case" REPLICA IDENTITY NOTHING;
CREATE PUBLICATION mz_source FOR TABLE public.t, public.u, public."Mixed Case";
`

func TestReadUpstream(t *testing.T) {
	url := upstreamDB(t, upstreamSetup)
	tableT := model.UpstreamTable{
		Ref: model.UpstreamRef{Schema: "public", Table: "t"}, InPublication: true, ReplicaIdentity: "full",
		Columns: []model.UpstreamColumn{
			{Name: "id", Attnum: 1, Type: "integer", TypeOID: 23, TypeMod: -1},
			{Name: "name", Attnum: 2, Type: "character varying(20)", TypeOID: 1043, TypeMod: 24},
			{Name: "amount", Attnum: 3, Type: "numeric(10,2)", TypeOID: 1700, TypeMod: 10<<16 | 2 + 4, Nullable: true},
			// attnum 4 was dropped: the gap is what tells a re-added column apart.
			{Name: "flag", Attnum: 5, Type: "boolean", TypeOID: 16, TypeMod: -1, Nullable: true},
		},
		Keys: [][]string{{"amount", "name"}, {"id"}},
	}
	tableU := model.UpstreamTable{
		Ref: model.UpstreamRef{Schema: "public", Table: "u"}, InPublication: true, ReplicaIdentity: "default",
		Columns: []model.UpstreamColumn{{Name: "x", Attnum: 1, Type: "bigint", TypeOID: 20, TypeMod: -1, Nullable: true}},
	}
	mixed := model.UpstreamTable{
		Ref: model.UpstreamRef{Schema: "public", Table: "Mixed Case"}, InPublication: true, ReplicaIdentity: "nothing",
		Columns: []model.UpstreamColumn{{Name: "c", Attnum: 1, Type: "integer", TypeOID: 23, TypeMod: -1, Nullable: true}},
	}
	tests := []struct {
		name        string
		publication string
		tables      []model.UpstreamRef
		want        model.UpstreamState
	}{
		{
			name:        "requested tables in and out of the publication, a missing one, and the publication's others",
			publication: "mz_source",
			tables: []model.UpstreamRef{
				{Schema: "public", Table: "t"}, {Schema: "other", Table: "v"}, {Schema: "public", Table: "missing"},
			},
			want: model.UpstreamState{
				Publication: "mz_source", PublicationExists: true,
				Tables: []model.UpstreamTable{
					{
						Ref: model.UpstreamRef{Schema: "other", Table: "v"}, ReplicaIdentity: "index",
						Columns: []model.UpstreamColumn{{Name: "k", Attnum: 1, Type: "text", TypeOID: 25, TypeMod: -1}},
					},
					mixed,
					{Ref: model.UpstreamRef{Schema: "public", Table: "missing"}},
					tableT,
					tableU,
				},
			},
		},
		{
			name:        "no tables asked: the publication's tables",
			publication: "mz_source",
			want: model.UpstreamState{
				Publication: "mz_source", PublicationExists: true,
				Tables: []model.UpstreamTable{mixed, tableT, tableU},
			},
		},
		{
			name:        "missing publication",
			publication: "nope",
			tables:      []model.UpstreamRef{{Schema: "public", Table: "u"}},
			want: model.UpstreamState{
				Publication: "nope",
				Tables: []model.UpstreamTable{{
					Ref: tableU.Ref, ReplicaIdentity: "default", Columns: tableU.Columns,
				}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn, wire := connectCounted(t, url)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cq := &CountingQuerier{Q: conn}
			got, err := ReadUpstream(ctx, cq, tt.publication, tt.tables)
			if err != nil {
				t.Fatal(err)
			}
			// Each table's OID is pg_class's (0 for a missing table):
			// checked at the end, left out of this comparison.
			oids := make([]uint32, len(got.Tables))
			for i := range got.Tables {
				oids[i], got.Tables[i].OID = got.Tables[i].OID, 0
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Fatalf("ReadUpstream (-want +got):\n%s", diff)
			}
			if cq.Requests() != 1 {
				t.Errorf("requests = %d, want 1 batch", cq.Requests())
			}
			// A fresh connection prepares the statements first: at most 2
			// network round trips, and 1 once they are prepared.
			if n := wire.Trips(); n > 2 {
				t.Errorf("first inspection took %d network round trips, want <= 2", n)
			}
			wire.Reset()
			if _, err := ReadUpstream(ctx, conn, tt.publication, tt.tables); err != nil {
				t.Fatal(err)
			}
			if n := wire.Trips(); n != 1 {
				t.Errorf("second inspection took %d network round trips, want 1", n)
			}
			for i, ut := range got.Tables {
				var want uint32
				if err := conn.QueryRow(ctx, `SELECT COALESCE(to_regclass(format('%I.%I', $1::text, $2::text))::oid, 0::oid)`,
					ut.Ref.Schema, ut.Ref.Table).Scan(&want); err != nil {
					t.Fatal(err)
				}
				if oids[i] != want {
					t.Errorf("%s: OID = %d, want %d", ut.Ref, oids[i], want)
				}
			}
		})
	}
}

// TestReadUpstreamSeesBreakingChanges checks the data a drift check needs
// after the upstream changes the table under an ingesting version.
func TestReadUpstreamSeesBreakingChanges(t *testing.T) {
	url := upstreamDB(t, upstreamSetup)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	refs := []model.UpstreamRef{{Schema: "public", Table: "t"}}
	before, err := ReadUpstream(ctx, conn, "mz_source", refs)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `
ALTER TABLE public.t ALTER COLUMN name TYPE varchar(40);
ALTER TABLE public.t RENAME COLUMN flag TO flagged;
ALTER TABLE public.t REPLICA IDENTITY DEFAULT;
ALTER TABLE public.t DROP CONSTRAINT t_name_amount_key;
ALTER PUBLICATION mz_source DROP TABLE public.t;`); err != nil {
		t.Fatal(err)
	}
	after, err := ReadUpstream(ctx, conn, "mz_source", refs)
	if err != nil {
		t.Fatal(err)
	}
	find := func(st model.UpstreamState) model.UpstreamTable {
		for _, tb := range st.Tables {
			if tb.Ref == refs[0] {
				return tb
			}
		}
		t.Fatalf("public.t missing from %+v", st)
		return model.UpstreamTable{}
	}
	b, a := find(before), find(after)
	want := model.UpstreamTable{
		Ref: refs[0], OID: b.OID, InPublication: false, ReplicaIdentity: "default",
		Columns: []model.UpstreamColumn{
			b.Columns[0],
			{Name: "name", Attnum: 2, Type: "character varying(40)", TypeOID: 1043, TypeMod: 44},
			b.Columns[2],
			{Name: "flagged", Attnum: 5, Type: "boolean", TypeOID: 16, TypeMod: -1, Nullable: true},
		},
		Keys: [][]string{{"id"}},
	}
	if diff := cmp.Diff(want, a); diff != "" {
		t.Fatalf("after the changes (-want +got):\n%s", diff)
	}
}

func TestReadUpstreams(t *testing.T) {
	url := upstreamDB(t, upstreamSetup)
	pgRef := model.Ref{Schema: "public", Name: "pg"}
	desired := &model.Desired{
		Sources: []model.Source{
			{Name: "pg", Schema: "public", Publication: "mz_source", UpstreamURLEnv: "PG_URL"},
			{Name: "unset", Schema: "public", Publication: "p", UpstreamURLEnv: "UNSET_URL"},
			{Name: "down", Schema: "public", Publication: "p", UpstreamURLEnv: "DOWN_URL"},
		},
		Schemas: []model.Schema{{Name: "app", Versions: []model.Version{{
			Objects: []model.Object{
				{Kind: model.KindTable, Name: "t", Source: pgRef, Reference: model.UpstreamRef{Schema: "public", Table: "t"}},
				{Kind: model.KindView, Name: "v"},
			},
		}}}},
	}
	obs := &model.Observed{
		Sources: []model.ObservedSource{{ID: "u2", Schema: "public", Name: "pg"}},
		Schemas: []model.ObservedSchema{{Name: "app", Objects: []model.ObservedObject{
			{ID: "u9", Kind: model.KindTable, Name: "v", SourceID: "u2", Reference: model.UpstreamRef{Schema: "other", Table: "v"}},
			{ID: "u10", Kind: model.KindTable, Name: "t", SourceID: "u2", Reference: model.UpstreamRef{Schema: "public", Table: "t"}},
		}}},
	}
	wantTables := map[string][]model.UpstreamRef{
		"pg":    {{Schema: "other", Table: "v"}, {Schema: "public", Table: "t"}},
		"unset": nil,
		"down":  nil,
	}
	if diff := cmp.Diff(wantTables, UpstreamTables(desired, obs)); diff != "" {
		t.Fatalf("UpstreamTables (-want +got):\n%s", diff)
	}
	env := map[string]string{
		"PG_URL":   url,
		"DOWN_URL": "postgres://u:hunter2@127.0.0.1:" + closedPort(t) + "/db?sslmode=disable",
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	got, err := ReadUpstreams(ctx, desired, obs, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err == nil {
		t.Fatal("no error for the sources that could not be inspected")
	}
	for _, want := range []string{"source unset: environment variable UNSET_URL is not set", "source down: inspect upstream: connect to 127.0.0.1:"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error leaks the password: %v", err)
	}
	if len(got) != 1 {
		t.Fatalf("inspected %d sources, want only pg", len(got))
	}
	var refs []model.UpstreamRef
	for _, tb := range got["pg"].Tables {
		refs = append(refs, tb.Ref)
	}
	wantRefs := []model.UpstreamRef{
		{Schema: "other", Table: "v"}, {Schema: "public", Table: "Mixed Case"},
		{Schema: "public", Table: "t"}, {Schema: "public", Table: "u"},
	}
	if diff := cmp.Diff(wantRefs, refs); diff != "" {
		t.Fatalf("tables inspected for pg (-want +got):\n%s", diff)
	}
}
