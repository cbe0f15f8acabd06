package observed

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mzsync/mzsync/internal/model"
)

func TestParseTableFromSource(t *testing.T) {
	tests := []struct {
		name string
		sql  string
		want tableOptions
	}{
		{
			name: "materialize stored form with sorted options and details",
			sql: `CREATE TABLE materialize.app_v2.t (pk pg_catalog.int4 NOT NULL, f2 pg_catalog.text, CONSTRAINT t_pkey PRIMARY KEY (pk)) ` +
				`FROM SOURCE materialize.public.pg (REFERENCE = postgres.public.t) WITH (TEXT COLUMNS = (f2, f1), EXCLUDE COLUMNS = (f3), DETAILS = '0a0b')`,
			want: tableOptions{
				Reference:      model.UpstreamRef{Schema: "public", Table: "t"},
				TextColumns:    []string{"f1", "f2"},
				ExcludeColumns: []string{"f3"},
				Keys:           [][]string{{"pk"}},
				Details:        "0a0b",
			},
		},
		{
			name: "keys: primary, composite unique (sorted), quoted; none from the option lists",
			sql: `CREATE TABLE s.t (a int4 NOT NULL, "B" text NOT NULL, c int4, CONSTRAINT "t_pkey" PRIMARY KEY (a), ` +
				`CONSTRAINT u UNIQUE (c, "B")) FROM SOURCE s.pg (REFERENCE = db.public.t) WITH (DETAILS = 'UNIQUE (x)')`,
			want: tableOptions{
				Reference: model.UpstreamRef{Schema: "public", Table: "t"},
				Keys:      [][]string{{"B", "c"}, {"a"}},
				Details:   "UNIQUE (x)",
			},
		},
		{
			name: "mzsync's own form with quoted identifiers and no equals",
			sql:  `CREATE TABLE "app_v2"."t" FROM SOURCE "public"."pg" (REFERENCE "public"."t") WITH (TEXT COLUMNS ("c"), EXCLUDE COLUMNS ("d", "Mixed""Case"))`,
			want: tableOptions{
				Reference:      model.UpstreamRef{Schema: "public", Table: "t"},
				TextColumns:    []string{"c"},
				ExcludeColumns: []string{"Mixed\"Case", "d"},
			},
		},
		{
			name: "no with clause",
			sql:  `CREATE TABLE app_v1.t FROM SOURCE pg (REFERENCE public.t)`,
			want: tableOptions{Reference: model.UpstreamRef{Schema: "public", Table: "t"}},
		},
		{
			name: "ignore columns is the old name of exclude columns",
			sql:  `CREATE TABLE a.t FROM SOURCE s (REFERENCE t) WITH (IGNORE COLUMNS (x))`,
			want: tableOptions{Reference: model.UpstreamRef{Table: "t"}, ExcludeColumns: []string{"x"}},
		},
		{
			name: "unquoted names fold to lower case, qualified column names keep their last part",
			sql:  `CREATE TABLE a.t FROM SOURCE s (REFERENCE DB.Public.T) WITH (TEXT COLUMNS (public.t.Col), RETAIN HISTORY FOR '1h')`,
			want: tableOptions{Reference: model.UpstreamRef{Schema: "public", Table: "t"}, TextColumns: []string{"col"}},
		},
		{
			name: "option words inside literals, comments and column definitions do not match",
			sql: "CREATE TABLE a.t (\"text columns\" text, c text DEFAULT 'WITH (TEXT COLUMNS (z))') -- TEXT COLUMNS (y)\n" +
				`FROM SOURCE s (REFERENCE public.t) WITH (DETAILS = 'TEXT COLUMNS = (q)', EXCLUDE COLUMNS = (e)) /* TEXT COLUMNS (w) */`,
			want: tableOptions{Reference: model.UpstreamRef{Schema: "public", Table: "t"}, ExcludeColumns: []string{"e"}, Details: "TEXT COLUMNS = (q)"},
		},
		{
			name: "pretty-printed over several lines with options after details",
			sql:  "CREATE TABLE materialize.v.t\n    (a pg_catalog.int4)\nFROM SOURCE materialize.public.pg\n    (REFERENCE = pg.public.t)\nWITH (\n    DETAILS = 'ff',\n    TEXT COLUMNS = (b, a)\n);",
			want: tableOptions{Reference: model.UpstreamRef{Schema: "public", Table: "t"}, TextColumns: []string{"a", "b"}, Details: "ff"},
		},
		{
			name: "not a table from source",
			sql:  `CREATE TABLE a.t (x int4) WITH (RETAIN HISTORY FOR '1h')`,
			want: tableOptions{},
		},
		{name: "empty", sql: "", want: tableOptions{}},
		{
			name: "unterminated input does not panic",
			sql:  `CREATE TABLE a.t FROM SOURCE s (REFERENCE "public`,
			want: tableOptions{Reference: model.UpstreamRef{Table: "public"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := parseTableFromSource(tt.sql)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("parseTableFromSource(%q) (-want +got):\n%s", tt.sql, diff)
			}
		})
	}
}

// FuzzParseTableFromSource checks that no input makes the parser panic or
// loop, and that it round-trips what mzsync itself writes.
func FuzzParseTableFromSource(f *testing.F) {
	f.Add("c", "d")
	f.Add(`a"b`, "x y")
	f.Add("", "")
	f.Fuzz(func(t *testing.T, text, exclude string) {
		sql := `CREATE TABLE "v"."t" FROM SOURCE "public"."pg" (REFERENCE "public"."t") WITH (TEXT COLUMNS (` +
			model.QuoteIdent(text) + `), EXCLUDE COLUMNS (` + model.QuoteIdent(exclude) + `))`
		got := parseTableFromSource(sql)
		want := tableOptions{
			Reference:      model.UpstreamRef{Schema: "public", Table: "t"},
			TextColumns:    []string{text},
			ExcludeColumns: []string{exclude},
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("round trip of %q (-want +got):\n%s", sql, diff)
		}
		parseTableFromSource(text + exclude) // must not panic
	})
}
