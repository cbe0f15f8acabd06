package desired

import (
	"fmt"
	"strings"
	"testing"
	"testing/fstest"
)

// benchTree is a manifest tree of 200 files holding 200 versions of 10
// objects each (5 tables, 4 views, 1 index): 2,000 objects.
func benchTree() fstest.MapFS {
	fsys := fstest.MapFS{}
	for f := 0; f < 200; f++ {
		var b strings.Builder
		if f == 0 {
			b.WriteString(srcDoc + "---\n" + strings.Replace(schemaDoc, "active: v1", "active: v200", 1) + "---\n")
		}
		fmt.Fprintf(&b, "apiVersion: mzsync.dev/v1alpha1\nkind: Version\nmetadata: {name: v%d}\nspec:\n  schema: app\n  tables:\n", f+1)
		for i := 0; i < 5; i++ {
			fmt.Fprintf(&b, "    - {name: t%d, source: pg, reference: public.t%d, excludeColumns: [c]}\n", i, i)
		}
		b.WriteString("  views:\n")
		for i := 0; i < 4; i++ {
			fmt.Fprintf(&b, "    - name: v%d\n      materialized: %v\n      sql: |\n        SELECT t%d.a, sum(t%d.b) AS total\n        FROM t%d JOIN t%d USING (a)\n        WHERE t%d.c <> 'x; y'\n        GROUP BY t%d.a\n", i, i%2 == 0, i, i, i, i+1, i, i)
		}
		b.WriteString("  indexes:\n    - {on: v0, columns: [a]}\n")
		fsys[fmt.Sprintf("app/v%03d.yaml", f+1)] = &fstest.MapFile{Data: []byte(b.String())}
	}
	return fsys
}

func BenchmarkLoad(b *testing.B) {
	fsys := benchTree()
	d, err := Load(fsys)
	if err != nil {
		b.Fatal(err)
	}
	n := 0
	for _, v := range d.Schemas[0].Versions {
		n += len(v.Objects)
	}
	if len(fsys) != 200 || n != 2000 {
		b.Fatalf("tree has %d files and %d objects, want 200 and 2000", len(fsys), n)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := Load(fsys); err != nil {
			b.Fatal(err)
		}
	}
}
