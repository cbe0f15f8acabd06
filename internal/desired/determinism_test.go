package desired

import (
	"fmt"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
)

// TestLoadIgnoresLayout: the same declarations split across files in any
// order, with keys reordered, comments, flow or block style and reflowed
// SQL, give the same state and digests.
func TestLoadIgnoresLayout(t *testing.T) {
	base, err := Load(withFiles(nil))
	if err != nil {
		t.Fatal(err)
	}
	layouts := map[string]fstest.MapFS{
		"one file, reversed documents": {
			"all.yaml": {Data: []byte(v1Doc + "---\n" + schemaDoc + "---\n" + srcDoc)},
		},
		"nested dirs, .yml, comments, block style, keys reordered, reflowed SQL": {
			"z/source.yml": {Data: []byte(`# the source
spec:
  postgres:
    publication: mz_source   # trailing comment
    connection: pg_conn
  cluster: quickstart
metadata:
  name: pg
kind: Source
apiVersion: mzsync.dev/v1alpha1
`)},
			"a/b/c/schema.yaml": {Data: []byte("kind: Schema\napiVersion: \"mzsync.dev/v1alpha1\"\nmetadata: {name: 'app'}\nspec:\n  active: v1\n")},
			"v1.yaml": {Data: []byte(`apiVersion: mzsync.dev/v1alpha1
kind: Version
metadata: {name: v1}
spec:
  views:
    - sql: |
        SELECT   sum(a)
            AS total
        FROM t;
      materialized: true
      name: matview
  tables:
    - {reference: public.t, source: pg, name: t}
  schema: app
`)},
			"notes.txt": {Data: []byte("ignored")},
		},
	}
	for name, fsys := range layouts {
		t.Run(name, func(t *testing.T) {
			got, err := Load(fsys)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(base, got, ignoreRevision); diff != "" {
				t.Errorf("state differs (-base +got):\n%s", diff)
			}
			if got.Revision == base.Revision {
				t.Error("different files share a content-hash revision")
			}
		})
	}
	again, _ := Load(withFiles(nil))
	if again.Revision != base.Revision {
		t.Errorf("same files, revisions %s and %s", base.Revision, again.Revision)
	}
}

// TestDigests: equal content gives equal version digests whatever the
// version's name; anything that defines an object changes its digest.
func TestDigests(t *testing.T) {
	v2 := strings.Replace(v1Doc, "name: v1", "name: v2", 1)
	d, err := Load(withFiles(map[string]string{"v2.yaml": v2}))
	if err != nil {
		t.Fatal(err)
	}
	vs := d.Schemas[0].Versions
	if vs[0].Digest != vs[1].Digest {
		t.Errorf("identical versions have digests %s and %s", vs[0].Digest, vs[1].Digest)
	}
	changes := map[string][2]string{
		"view SQL":        {"SELECT sum(a) AS total FROM t", "SELECT sum(a) AS total FROM t WHERE a > 0"},
		"SQL literal":     {"SELECT sum(a) AS total FROM t", "SELECT sum(a) AS total FROM t WHERE 'x  y' <> ''"},
		"view kind":       {"materialized: true", "materialized: false"},
		"view cluster":    {"materialized: true", "materialized: true, cluster: other"},
		"table reference": {"reference: public.t", "reference: other.t"},
		"text columns":    {"reference: public.t", "reference: public.t, textColumns: [a]"},
		"table name":      {"{name: t,", "{name: t2,"},
	}
	for name, ch := range changes {
		t.Run(name, func(t *testing.T) {
			doc := strings.Replace(v2, ch[0], ch[1], 1)
			if name == "table name" {
				doc = strings.Replace(doc, "FROM t", "FROM t2", 1)
			}
			d2, err := Load(withFiles(map[string]string{"v2.yaml": doc}))
			if err != nil {
				t.Fatal(err)
			}
			if d2.Schemas[0].Versions[1].Digest == vs[1].Digest {
				t.Errorf("changing the %s kept the version digest", name)
			}
		})
	}
	// The schema's default cluster is resolved into the materialized view.
	d3, err := Load(withFiles(map[string]string{"schema.yaml": strings.Replace(schemaDoc, "active: v1", "active: v1, cluster: compute", 1)}))
	if err != nil {
		t.Fatal(err)
	}
	mv := d3.Schemas[0].Versions[0].Objects[1]
	if mv.Cluster != "compute" || mv.Digest == d.Schemas[0].Versions[0].Objects[1].Digest {
		t.Errorf("materialized view cluster %q digest %s: want compute and a new digest", mv.Cluster, mv.Digest)
	}
}

// TestCreationOrder: tables by source then name, views after what they
// read, then indexes by name.
func TestCreationOrder(t *testing.T) {
	src2 := strings.Replace(srcDoc, "name: pg", "name: aa", 1)
	v := `apiVersion: mzsync.dev/v1alpha1
kind: Version
metadata: {name: v1}
spec:
  schema: app
  tables:
    - {name: z, source: pg, reference: t1}
    - {name: y, source: aa, reference: '"Upper"."T"'}
    - {name: t, source: pg, reference: public.t}
  views:
    - {name: c_top, sql: "WITH w AS (SELECT * FROM b_mid) SELECT * FROM w JOIN z ON true"}
    - {name: b_mid, sql: "SELECT * FROM a_base, y"}
    - {name: a_base, sql: "SELECT extract(year FROM now()) AS yr FROM t"}
    - {name: matview, materialized: true, sql: SELECT 1 AS one}
  indexes:
    - {on: c_top}
    - {on: a_base, columns: [yr], name: by_year}
`
	d, err := Load(withFiles(map[string]string{"v1.yaml": v, "src2.yaml": src2}))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, o := range d.Schemas[0].Versions[0].Objects {
		got = append(got, fmt.Sprintf("%s %s %v", o.Kind, o.Name, o.DependsOn))
	}
	want := []string{
		"table y []", "table t []", "table z []",
		"view a_base [t]", "view b_mid [a_base y]", "view c_top [b_mid z]", "materialized-view matview []",
		"index by_year [a_base]", "index c_top_primary_idx [c_top]",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("order (-want +got):\n%s", diff)
	}
	y := d.Schemas[0].Versions[0].Objects[0]
	if y.Reference.Schema != "Upper" || y.Reference.Table != "T" || y.Source.Name != "aa" {
		t.Errorf("quoted reference: %+v from %+v", y.Reference, y.Source)
	}
}
