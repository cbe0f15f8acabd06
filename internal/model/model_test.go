package model

import (
	"fmt"
	"sort"
	"strings"
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
		{Schema: "app", Version: "v2", Digest: "sha256:abc", State: StateBuilding},
		{Schema: "app", Version: "v2", Digest: "sha256:abc", State: StateBuilt, Live: 7, History: []string{"v1", "a,b c", "v0"}},
	} {
		got, ok := ParseSchemaMarker(m.String())
		if diff := cmp.Diff(m, got); !ok || diff != "" {
			t.Fatalf("round trip of %q: ok=%v (-want +got):\n%s", m.String(), ok, diff)
		}
	}
	// A marker written before build states were recorded still parses,
	// as built and never recorded live.
	legacy, ok := ParseSchemaMarker("mzsync:v1 schema=app version=v1 digest=sha256:1")
	if !ok || !legacy.Built() || legacy.Live != 0 || legacy.State != "" {
		t.Fatalf("legacy marker: %+v %v", legacy, ok)
	}
	if b, _ := ParseSchemaMarker(SchemaMarker{Schema: "a", Version: "v", State: StateBuilding}.String()); b.Built() {
		t.Fatal("a building marker reads as built")
	}
	// A long history is cut from its oldest end to fit Materialize's limit.
	long := SchemaMarker{Schema: "app", Version: "v999", Digest: "sha256:" + strings.Repeat("f", 64), State: StateBuilt, Live: 500}
	for i := 498; i > 0; i-- {
		long.History = append(long.History, fmt.Sprintf("v%d", i))
	}
	enc := long.String()
	got, _ := ParseSchemaMarker(enc)
	if len(enc) > MaxCommentBytes || len(got.History) < 50 || got.History[0] != "v498" {
		t.Fatalf("long marker: %d bytes, %d history entries, first %q", len(enc), len(got.History), got.History[0])
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
