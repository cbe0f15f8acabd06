package spec

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const goodVersion = `# comment
apiVersion: mzsync.dev/v1alpha1
kind: Version
metadata:
  name: v2
spec:
  schema: app
  tables:
    - {name: t, source: pg, reference: public.t, textColumns: [c]}
  views:
    - name: matview
      materialized: true
      sql: SELECT sum(a) AS total FROM t WHERE b
  indexes:
    - {on: matview, columns: [total]}
`

func TestDecodeVersion(t *testing.T) {
	ms, err := Decode("app/v2.yaml", []byte(goodVersion))
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 1 {
		t.Fatalf("got %d manifests", len(ms))
	}
	m := ms[0]
	want := &VersionSpec{
		Schema:  "app",
		Tables:  []Table{{Name: "t", Source: "pg", Reference: "public.t", TextColumns: []string{"c"}}},
		Views:   []View{{Name: "matview", Materialized: true, SQL: "SELECT sum(a) AS total FROM t WHERE b"}},
		Indexes: []Index{{On: "matview", Columns: []string{"total"}}},
	}
	if diff := cmp.Diff(want, m.Version); diff != "" {
		t.Errorf("spec (-want +got):\n%s", diff)
	}
	if m.Kind != KindVersion || m.Metadata.Name != "v2" || m.Line != 2 || m.Document != 1 {
		t.Errorf("envelope: %+v", m)
	}
	for path, line := range map[string]int{"spec.views[0].sql": 13, "spec.tables[0].textColumns[0]": 9, "spec.indexes": 14, "spec.views[0].sql.x": 13, "nowhere": 2} {
		if got := m.LineOf(path); got != line {
			t.Errorf("LineOf(%s) = %d, want %d", path, got, line)
		}
	}
	if ix := m.Version.Indexes[0]; ix.ResolvedName() != "matview_total_idx" || (Index{On: "mv"}).ResolvedName() != "mv_primary_idx" {
		t.Errorf("default index names: %s, %s", ix.ResolvedName(), (Index{On: "mv"}).ResolvedName())
	}
}

func TestDecodeErrors(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{"string for a list", strings.Replace(goodVersion, "columns: [total]", "columns: total", 1), `f.yaml:15: document 1: spec.indexes[0].columns: expected a list, found the string "total"`},
		{"yes is not a boolean", strings.Replace(goodVersion, "materialized: true", "materialized: yes", 1), `spec.views[0].materialized: expected true or false, found the string "yes"`},
		{"number for a string", strings.Replace(goodVersion, "schema: app", "schema: 42", 1), "spec.schema: expected a string, found the number 42"},
		{"integer overflow", "apiVersion: mzsync.dev/v1alpha1\nkind: Schema\nmetadata: {name: a}\nspec: {active: v1, retain: 99999999999}\n", "spec.retain: expected an integer that fits 32 bits"},
		{"merge key", "apiVersion: mzsync.dev/v1alpha1\nkind: Schema\nmetadata: {name: a}\nspec: {<<: {active: v1}}\n", "merge keys (<<) are not allowed"},
		{"non-string key", "apiVersion: mzsync.dev/v1alpha1\nkind: Schema\nmetadata: {name: a}\nspec: {1: x}\n", "keys must be strings"},
		{"syntax error", "a: [1,\n", "f.yaml:1: document 1: invalid YAML: did not find expected node content"},
		{"scalar document", "hello\n", "a manifest document must be a mapping"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode("f.yaml", []byte(tc.in))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			for _, e := range Errors(err) {
				if e.File != "f.yaml" {
					t.Errorf("error without file: %v", e)
				}
			}
		})
	}
}

func TestParseReference(t *testing.T) {
	cases := []struct{ in, schema, table, err string }{
		{"t", "public", "t", ""},
		{"public.t", "public", "t", ""},
		{"Public.T", "public", "t", ""},
		{`"My Schema"."T"`, "My Schema", "T", ""},
		{`s."a""b"`, "s", `a"b`, ""},
		{"a.b.c", "", "", "3 parts"},
		{"a.", "", "", "ends with"},
		{"a b", "", "", "not a name"},
		{`"x`, "", "", "unterminated"},
		{"", "", "", "required"},
	}
	for _, tc := range cases {
		s, tb, err := ParseReference(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseReference(%q) err = %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || s != tc.schema || tb != tc.table {
			t.Errorf("ParseReference(%q) = %q, %q, %v; want %q, %q", tc.in, s, tb, err, tc.schema, tc.table)
		}
	}
}

func TestCheckName(t *testing.T) {
	cases := map[string]string{
		"app": "", "_x1$": "", "v2": "",
		"":                       "required",
		"App":                    "must be lower case",
		"1abc":                   "not a valid name",
		"a-b":                    "not a valid name",
		"mz_x":                   "reserved for system objects",
		"pg_x":                   "reserved for system objects",
		strings.Repeat("a", 256): "longer than 255 bytes",
	}
	for in, want := range cases {
		err := CheckName(in)
		if (want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), want)) {
			t.Errorf("CheckName(%q) = %v, want %q", in, err, want)
		}
	}
}

// FuzzDecode: any bytes decode and validate to a result or located
// errors, never a panic.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(goodVersion))
	f.Add([]byte("a: &a [1]\nb: *a\n"))
	f.Add([]byte("---\n---\n"))
	f.Add([]byte("apiVersion: mzsync.dev/v1alpha1\nkind: Schema\nmetadata: {name: a}\nspec: {active: v1, retain: -1, readiness: {maxLag: x}}\n"))
	f.Add([]byte("\xff\xfe"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ms, err := Decode("f.yaml", data)
		for _, e := range Errors(err) {
			if e.File != "f.yaml" || e.Msg == "" {
				t.Fatalf("unlocated error %#v", e)
			}
		}
		if err != nil && len(Errors(err)) == 0 {
			t.Fatalf("error of another type: %v", err)
		}
		_ = Validate(ms)
	})
}
