package spec

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestJSONSchemaIsCurrent fails when the committed schema differs from the
// one the Go types produce: run go generate ./spec.
func TestJSONSchemaIsCurrent(t *testing.T) {
	want, err := JSONSchema()
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(SchemaFile)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Fatalf("%s is stale; run go generate ./spec (-generated +committed):\n%s", SchemaFile, diff)
	}
}

// TestJSONSchemaCoversEveryField: each kind's spec lists every field the
// decoder accepts, and forbids others, so editors flag the same typos.
func TestJSONSchemaCoversEveryField(t *testing.T) {
	b, _ := JSONSchema()
	var s struct {
		Definitions map[string]struct {
			Properties           map[string]json.RawMessage `json:"properties"`
			AdditionalProperties *bool                      `json:"additionalProperties"`
			Required             []string                   `json:"required"`
		} `json:"definitions"`
	}
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{
		"SourceSpec":  {"cluster", "postgres", "schema", "upstream"},
		"SchemaSpec":  {"active", "cluster", "grants", "prune", "readiness", "retain", "swapGroup"},
		"Grant":       {"privileges", "role"},
		"VersionSpec": {"adoptFrom", "indexes", "schema", "tables", "views"},
		"Table":       {"excludeColumns", "name", "reference", "source", "textColumns"},
		"View":        {"cluster", "materialized", "name", "sql"},
		"Index":       {"cluster", "columns", "name", "on"},
		"Version":     {"apiVersion", "kind", "metadata", "spec"},
	}
	for def, fields := range want {
		d, ok := s.Definitions[def]
		if !ok {
			t.Errorf("definition %s missing", def)
			continue
		}
		var got []string
		for f := range d.Properties {
			got = append(got, f)
		}
		if diff := cmp.Diff(fields, got, cmpSorted); diff != "" {
			t.Errorf("%s fields (-want +got):\n%s", def, diff)
		}
		if d.AdditionalProperties == nil || *d.AdditionalProperties {
			t.Errorf("%s allows unknown fields", def)
		}
	}
	if diff := cmp.Diff([]string{"active"}, s.Definitions["SchemaSpec"].Required); diff != "" {
		t.Errorf("SchemaSpec required: %s", diff)
	}
}
