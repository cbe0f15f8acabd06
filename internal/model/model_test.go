package model

import (
	"sort"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestCompareVersionsNatural(t *testing.T) {
	got := []string{"v10", "v2", "v1", "v2a", "v02", "alpha", "v9"}
	sort.Slice(got, func(i, j int) bool { return CompareVersions(got[i], got[j]) < 0 })
	want := []string{"alpha", "v1", "v2", "v2a", "v02", "v9", "v10"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("order (-want +got):\n%s", diff)
	}
	if CompareVersions("v3", "v3") != 0 {
		t.Fatal("equal names must compare equal")
	}
	if CompareVersions("v99999999999999999999999", "v100000000000000000000000") != -1 {
		t.Fatal("long digit runs must compare numerically without overflow")
	}
}

func TestSchemaMarkerRoundTrip(t *testing.T) {
	for _, m := range []SchemaMarker{
		{Schema: "app", Version: "v2", Digest: "sha256:abc"},
		{Schema: "my schema", Version: "v=1%", Digest: "sha256:0"},
	} {
		got, ok := ParseSchemaMarker(m.String())
		if !ok || got != m {
			t.Fatalf("round trip of %q: got %+v ok=%v", m.String(), got, ok)
		}
	}
	if _, ok := ParseSchemaMarker("Deployment by alice | Commit SHA: 1"); ok {
		t.Fatal("a foreign comment parsed as a marker")
	}
	if _, ok := ParseSchemaMarker("mzsync:v1 digest=sha256:1"); ok {
		t.Fatal("an object marker parsed as a schema marker")
	}
	if _, ok := ParseObjectMarker("mzsync:v10 digest=x"); ok {
		t.Fatal("a comment sharing only a prefix parsed as a marker")
	}
	om, ok := ParseObjectMarker(ObjectMarker{Digest: "sha256:ff"}.String())
	if !ok || om.Digest != "sha256:ff" {
		t.Fatalf("object marker round trip: %+v %v", om, ok)
	}
}

func TestQuoteIdent(t *testing.T) {
	cases := map[string]string{
		"t":              `"t"`,
		`a"b`:            `"a""b"`,
		`x"; DROP s; --`: `"x""; DROP s; --"`,
	}
	for in, want := range cases {
		if got := QuoteIdent(in); got != want {
			t.Errorf("QuoteIdent(%q) = %s, want %s", in, got, want)
		}
	}
	if got := QuoteLiteral("it's"); got != `'it''s'` {
		t.Errorf("QuoteLiteral = %s", got)
	}
	if got := (Ref{Schema: "app_v2", Name: "t"}).Quoted(); got != `"app_v2"."t"` {
		t.Errorf("Ref.Quoted = %s", got)
	}
}
