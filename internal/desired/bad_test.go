package desired

import (
	"errors"
	"os"
	"runtime"
	"strings"
	"testing"
	"testing/fstest"
)

const (
	srcDoc = `apiVersion: mzsync.dev/v1alpha1
kind: Source
metadata: {name: pg}
spec: {cluster: quickstart, postgres: {connection: pg_conn, publication: mz_source}}
`
	schemaDoc = `apiVersion: mzsync.dev/v1alpha1
kind: Schema
metadata: {name: app}
spec: {active: v1}
`
	v1Doc = `apiVersion: mzsync.dev/v1alpha1
kind: Version
metadata: {name: v1}
spec:
  schema: app
  tables: [{name: t, source: pg, reference: public.t}]
  views:
    - {name: matview, materialized: true, sql: SELECT sum(a) AS total FROM t}
`
)

// withFiles returns a valid base tree plus files.
func withFiles(files map[string]string) fstest.MapFS {
	fsys := fstest.MapFS{
		"source.yaml": {Data: []byte(srcDoc)},
		"schema.yaml": {Data: []byte(schemaDoc)},
		"v1.yaml":     {Data: []byte(v1Doc)},
	}
	for k, v := range files {
		fsys[k] = &fstest.MapFile{Data: []byte(v)}
	}
	return fsys
}

func v1With(old, new string) string { return strings.Replace(v1Doc, old, new, 1) }

// TestLoadRejectsBadInput: every class of bad input is an error that names
// the file and the field (or line), never a panic.
func TestLoadRejectsBadInput(t *testing.T) {
	// A billion-laughs bomb aimed at a real field: refused at the alias,
	// never expanded.
	bomb := "a: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n" +
		"apiVersion: mzsync.dev/v1alpha1\nkind: Version\nmetadata: {name: v9}\nspec: {schema: app, tables: [*c,*c,*c,*c,*c,*c,*c,*c,*c]}\n"
	cases := []struct {
		name  string
		fsys  fstest.MapFS
		wants []string // substrings of the error, all required
	}{
		{"unknown field", withFiles(map[string]string{"v1.yaml": v1With("schema: app", "schema: app\n  colour: blue")}), []string{"v1.yaml:6: document 1: spec.colour: unknown field"}},
		{"misspelt field suggests", withFiles(map[string]string{"v1.yaml": v1With("reference:", "Reference:")}), []string{"spec.tables[0].Reference: unknown field (did you mean \"reference\"?)"}},
		{"wrong type", withFiles(map[string]string{"schema.yaml": strings.Replace(schemaDoc, "active: v1", "active: v1, retain: many", 1)}), []string{"schema.yaml:4: document 1: spec.retain: expected an integer"}},
		{"duplicate key", withFiles(map[string]string{"schema.yaml": strings.Replace(schemaDoc, "active: v1", "active: v1, active: v2", 1)}), []string{"schema.yaml:4: document 1: spec.active: duplicate key"}},
		{"unknown kind", withFiles(map[string]string{"x.yaml": "apiVersion: mzsync.dev/v1alpha1\nkind: Sink\nmetadata: {name: s}\nspec: {}\n"}), []string{"x.yaml:2: document 1: kind: unknown kind \"Sink\""}},
		{"unknown apiVersion", withFiles(map[string]string{"x.yaml": strings.Replace(srcDoc, "v1alpha1", "v2", 1)}), []string{"x.yaml:1: document 1: apiVersion: unknown apiVersion"}},
		{"second statement", withFiles(map[string]string{"v1.yaml": v1With("FROM t}", "FROM t; DROP TABLE t}")}), []string{"v1.yaml:8: document 1: spec.views[0].sql: more than one statement"}},
		{"semicolon in literal is fine but DML is not a query", withFiles(map[string]string{"v1.yaml": v1With("sql: SELECT sum(a) AS total FROM t", "sql: \"DELETE FROM t WHERE a = ';'\"")}), []string{"spec.views[0].sql: not a query"}},
		{"unknown source", withFiles(map[string]string{"v1.yaml": v1With("source: pg", "source: pg2")}), []string{"v1.yaml:6: document 1: spec.tables[0].source: unknown source \"pg2\" (declared: pg)"}},
		{"unknown schema", withFiles(map[string]string{"v1.yaml": v1With("schema: app", "schema: other")}), []string{"spec.schema: unknown schema \"other\""}},
		{"active names no version", withFiles(map[string]string{"schema.yaml": strings.Replace(schemaDoc, "active: v1", "active: v9", 1)}), []string{"schema.yaml:4: document 1: spec.active: unknown version \"v9\" of schema app (declared: v1)"}},
		{"index on a missing object", withFiles(map[string]string{"v1.yaml": v1Doc + "  indexes: [{on: nope}]\n"}), []string{"spec.indexes[0].on: \"nope\" is not a table or view of version app/v1"}},
		{"view reads a missing table", withFiles(map[string]string{"v1.yaml": v1With("FROM t}", "FROM u}")}), []string{"spec.views[0].sql: reads \"u\", which is not a table or view of version app/v1"}},
		{"negative retain", withFiles(map[string]string{"schema.yaml": strings.Replace(schemaDoc, "active: v1", "active: v1, retain: -1", 1)}), []string{"spec.retain: must be 0 or more"}},
		{"bad duration", withFiles(map[string]string{"schema.yaml": strings.Replace(schemaDoc, "active: v1", "active: v1, readiness: {maxLag: soon}", 1)}), []string{"spec.readiness.maxLag: not a duration"}},
		{"duplicate object in a version", withFiles(map[string]string{"v1.yaml": v1With("name: matview", "name: t")}), []string{"spec.views[0].name: duplicate object name \"t\""}},
		{"upper-case name", withFiles(map[string]string{"v1.yaml": v1With("name: matview", "name: MatView")}), []string{"spec.views[0].name: \"MatView\" must be lower case", "write \"matview\""}},
		{"reserved prefix", withFiles(map[string]string{"schema.yaml": strings.Replace(schemaDoc, "name: app", "name: mz_app", 1)}), []string{"metadata.name: \"mz_app\" uses the prefix mz_"}},
		{"URL instead of env name", withFiles(map[string]string{"source.yaml": strings.Replace(srcDoc, "publication: mz_source}", "publication: mz_source}, upstream: {urlEnv: 'postgres://u:pw@h/db'}", 1)}), []string{"spec.upstream.urlEnv: must name an environment variable"}},
		{"version schema collides", withFiles(map[string]string{"s2.yaml": strings.Replace(schemaDoc, "name: app", "name: app_v1", 1)}), []string{"version schema \"app_v1\" collides with schema \"app_v1\""}},
		{"lease schema reserved", withFiles(map[string]string{"s2.yaml": strings.Replace(schemaDoc, "name: app", "name: mzsync_lease", 1)}), []string{"schema \"mzsync_lease\" is reserved"}},
		{"view cycle", withFiles(map[string]string{"v1.yaml": v1Doc + "    - {name: a, sql: SELECT * FROM b}\n    - {name: b, sql: SELECT * FROM a}\n"}), []string{"spec.views: dependency cycle: a -> b -> a"}},
		{"cluster on a plain view", withFiles(map[string]string{"v1.yaml": v1Doc + "    - {name: a, sql: SELECT 1, cluster: c}\n"}), []string{"spec.views[1].cluster: only a materialized view runs on a cluster"}},
		{"duplicate documents across files", withFiles(map[string]string{"copy/v1.yaml": v1Doc}), []string{"v1.yaml:3: document 1: metadata.name: duplicate Version app/v1 (first declared in copy/v1.yaml document 1)"}},
		{"second document located", withFiles(map[string]string{"more.yaml": "# header\n---\n" + strings.Replace(v1Doc, "name: v1", "name: v2", 1) + "---\n" + strings.Replace(v1Doc, "name: v1", "name: v3", 1) + "  extra: 1\n"}), []string{"more.yaml:20: document 2: spec.extra: unknown field"}},
		{"non-UTF-8 bytes", withFiles(map[string]string{"bad.yaml": "a: 1\nb: \xff\xfe\n"}), []string{"bad.yaml:2: not valid UTF-8"}},
		{"tab indentation", withFiles(map[string]string{"tabs.yaml": "apiVersion: mzsync.dev/v1alpha1\nkind: Schema\nmetadata:\n\tname: x\n"}), []string{"tabs.yaml:", "a tab is used for indentation"}},
		{"YAML bomb", withFiles(map[string]string{"bomb.yaml": bomb}), []string{"bomb.yaml:7: document 1: spec.tables[0]: YAML aliases are not allowed"}},
		{"alias in spec", withFiles(map[string]string{"v1.yaml": v1With("reference: public.t", "reference: &r public.t, textColumns: [*r]")}), []string{"v1.yaml:6: document 1: spec.tables[0].textColumns[0]: YAML aliases are not allowed"}},
		{"deep nesting", withFiles(map[string]string{"deep.yaml": strings.Repeat("[", 100000) + strings.Repeat("]", 100000)}), []string{"deep.yaml: document 1: invalid YAML: exceeded max depth"}},
		{"document that is a list", withFiles(map[string]string{"list.yaml": "- a\n- b\n"}), []string{"list.yaml:1: document 1: a manifest document must be a mapping"}},
		{"missing spec", withFiles(map[string]string{"x.yaml": "apiVersion: mzsync.dev/v1alpha1\nkind: Source\nmetadata: {name: p2}\n"}), []string{"x.yaml:1: document 1: spec: required"}},
		{"missing required fields", withFiles(map[string]string{"x.yaml": "apiVersion: mzsync.dev/v1alpha1\nkind: Source\nmetadata: {name: p2}\nspec: {postgres: {}}\n"}), []string{"spec.postgres.connection: required", "spec.postgres.publication: required"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(tc.fsys)
			if err == nil {
				t.Fatal("Load succeeded")
			}
			for _, w := range tc.wants {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not contain %q:\n%v", w, err)
				}
			}
		})
	}
}

// TestLoadReportsEveryProblem: problems in different files and documents
// come back together.
func TestLoadReportsEveryProblem(t *testing.T) {
	_, err := Load(withFiles(map[string]string{
		"schema.yaml": strings.Replace(schemaDoc, "active: v1", "active: v1, retain: -2", 1),
		"v1.yaml":     v1With("FROM t}", "FROM t; SELECT 1}"),
	}))
	for _, w := range []string{"schema.yaml:4: document 1: spec.retain", "v1.yaml:8: document 1: spec.views[0].sql"} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("error lacks %q: %v", w, err)
		}
	}
}

func TestLoadEmpty(t *testing.T) {
	cases := map[string]fstest.MapFS{
		"no files":             {},
		"only other files":     {"README.md": {Data: []byte("# hi")}},
		"only comments":        {"a.yaml": {Data: []byte("# nothing here\n# still nothing\n")}},
		"only empty documents": {"a.yml": {Data: []byte("---\n---\n# c\n---\n")}},
	}
	for name, fsys := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := Load(fsys); !errors.Is(err, ErrEmpty) {
				t.Fatalf("err = %v, want ErrEmpty", err)
			}
		})
	}
}

// TestLoadHugeFileBoundedMemory: a 10 MB manifest is refused with a clear
// error after reading no more than the limit.
func TestLoadHugeFileBoundedMemory(t *testing.T) {
	dir := t.TempDir()
	big := strings.Repeat("# padding line of a huge manifest file\n", 10<<20/40)
	writeTree(t, dir, map[string]string{"huge.yaml": big})
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err := Load(os.DirFS(dir))
	runtime.ReadMemStats(&after)
	if err == nil || !strings.Contains(err.Error(), "huge.yaml: file is larger than the 1048576 bytes a manifest may have") {
		t.Fatalf("err = %v", err)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 8<<20 {
		t.Errorf("loading a 10 MB file allocated %d bytes; want it bounded by the file limit", alloc)
	}
}
