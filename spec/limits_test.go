package spec

import (
	"strings"
	"testing"
)

// TestValidateMaterializeLimits: validate refuses offline what Materialize
// would refuse: names over 255 bytes (generated version schemas
// included), system prefixes, views over mz_internal, and a name on a
// default index (Materialize names those itself).
func TestValidateMaterializeLimits(t *testing.T) {
	base := `apiVersion: mzsync.dev/v1alpha1
kind: Source
metadata: {name: pg}
spec: {cluster: c, postgres: {connection: conn, publication: pub}}
---
apiVersion: mzsync.dev/v1alpha1
kind: Schema
metadata: {name: SCHEMA}
spec: {active: VERSION, cluster: c}
---
apiVersion: mzsync.dev/v1alpha1
kind: Version
metadata: {name: VERSION}
spec:
  schema: SCHEMA
  tables: [{name: t, source: pg, reference: public.t}]
  views: [{name: v, sql: VIEWSQL}]
  indexes: [INDEX]
`
	doc := func(schema, version, viewSQL, index string) string {
		r := strings.NewReplacer("SCHEMA", schema, "VERSION", version, "VIEWSQL", viewSQL, "INDEX", index)
		return r.Replace(base)
	}
	long := strings.Repeat("v", 200)
	tests := []struct {
		name, yaml, want string
	}{
		{"valid", doc("app", "v1", "SELECT a FROM t", "{on: v}"), ""},
		{"generated version schema over 255 bytes", doc(strings.Repeat("s", 60), long, "SELECT a FROM t", "{on: v}"),
			"is longer than 255 bytes"},
		{"schema with the mz_ prefix", doc("mz_app", "v1", "SELECT a FROM t", "{on: v}"), "reserved for system objects"},
		{"schema with the pg_ prefix", doc("pg_app", "v1", "SELECT a FROM t", "{on: v}"), "reserved for system objects"},
		{"view over mz_internal", doc("app", "v1", "SELECT count(*) AS n FROM mz_internal.mz_source_statuses", "{on: v}"),
			"reads mz_internal"},
		{"a default index with its own name", doc("app", "v1", "SELECT a FROM t", "{on: v, name: my_idx}"),
			`a default index (no columns) is always named "v_primary_idx"`},
		{"a named index with columns is fine", doc("app", "v1", "SELECT a FROM t", "{on: v, name: my_idx, columns: [a]}"), ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ms, err := Decode("m.yaml", []byte(tc.yaml))
			if err == nil {
				err = Validate(ms)
			}
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
	if n := markerBound("app", "v2"); n > MaxCommentBytes || n < len("mzsync:v1 schema=app version=v2 digest=sha256:")+64 {
		t.Errorf("markerBound = %d", n)
	}
}
