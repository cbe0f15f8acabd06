package spec

import (
	"strings"
	"testing"
)

// TestValidateAdoptFrom: adoptFrom names one hand-built schema, adopted by
// one version; not another declared schema, nor another version's schema.
func TestValidateAdoptFrom(t *testing.T) {
	doc := func(v1From, v2From string) string {
		return `apiVersion: mzsync.dev/v1alpha1
kind: Source
metadata: {name: pg}
spec: {cluster: c, postgres: {connection: conn, publication: pub}}
---
apiVersion: mzsync.dev/v1alpha1
kind: Schema
metadata: {name: app}
spec: {active: v2, cluster: c}
---
apiVersion: mzsync.dev/v1alpha1
kind: Schema
metadata: {name: other}
spec: {active: v1, cluster: c}
---
apiVersion: mzsync.dev/v1alpha1
kind: Version
metadata: {name: v1}
spec: {schema: other, tables: [{name: t, source: pg, reference: public.t}]}
---
apiVersion: mzsync.dev/v1alpha1
kind: Version
metadata: {name: v1}
spec: {schema: app, adoptFrom: ` + v1From + `, tables: [{name: t, source: pg, reference: public.t}]}
---
apiVersion: mzsync.dev/v1alpha1
kind: Version
metadata: {name: v2}
spec: {schema: app, adoptFrom: ` + v2From + `, tables: [{name: t, source: pg, reference: public.t}]}
`
	}
	for _, tc := range []struct{ v1, v2, want string }{
		{"v1", "app", ""},
		{"app_v1", "app_v2", ""},
		{"v1", "v1", `schema "v1" is already adopted by Version app/v1`},
		{"other", "app", `"other" is another declared Schema`},
		{"v1", "app_v1", `"app_v1" is the version schema of app/v1`},
		{"mz_x", "app", "reserved for system objects"},
	} {
		ms, err := Decode("m.yaml", []byte(doc(tc.v1, tc.v2)))
		if err != nil {
			t.Fatal(err)
		}
		err = Validate(ms)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s/%s: %v", tc.v1, tc.v2, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s/%s: %v, want %q", tc.v1, tc.v2, err, tc.want)
		case tc.want != "" && !strings.Contains(err.Error(), "spec.adoptFrom"):
			t.Errorf("%s/%s: %v does not name spec.adoptFrom", tc.v1, tc.v2, err)
		}
	}
}
