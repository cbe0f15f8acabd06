package model

import (
	"testing"
	"time"
)

func TestLeaseCommentRoundTrip(t *testing.T) {
	want := Lease{Owner: "host a/123/ff", Expires: time.Date(2026, 11, 24, 8, 0, 0, 5, time.UTC)}
	got, ok := ParseLeaseComment(want.String())
	if !ok || got.Owner != want.Owner || !got.Expires.Equal(want.Expires) {
		t.Fatalf("round trip of %q: %+v %v", want.String(), got, ok)
	}
	for _, bad := range []string{"", "mzsync:lease", "mzsync:lease owner=x", "mzsync:lease expires=2026-01-01T00:00:00Z",
		"mzsync:lease owner=x expires=tomorrow", "mzsync:v1 digest=sha256:1", "mzsync:lease owner=%zz expires=2026-01-01T00:00:00Z"} {
		if l, ok := ParseLeaseComment(bad); ok {
			t.Errorf("ParseLeaseComment(%q) = %+v, want not ok", bad, l)
		}
	}
}

func TestLeaseCommentToken(t *testing.T) {
	want := Lease{Owner: "a", Expires: time.Date(2026, 11, 24, 8, 0, 0, 0, time.UTC), Token: "0123abcd"}
	got, ok := ParseLeaseComment(want.String())
	if !ok || got != want {
		t.Fatalf("round trip of %q: %+v %v", want.String(), got, ok)
	}
	for name, want := range map[string]bool{"mzsync_lease": true, "mzsync_lease_fence_ab": true, "mzsync_lease_stale_1": true, "mzsync_leases": false, "app": false} {
		if IsLeaseSchema(name) != want {
			t.Errorf("IsLeaseSchema(%q) = %v", name, !want)
		}
	}
}

func TestSchemaMarkerRevision(t *testing.T) {
	m := SchemaMarker{Schema: "app", Version: "v2", Digest: "sha256:d", Revision: "0123abc", State: StateBuilt, Live: 2, History: []string{"v1"}}
	got, ok := ParseSchemaMarker(m.String())
	if !ok || got.Revision != "0123abc" || got.Live != 2 || len(got.History) != 1 {
		t.Fatalf("round trip of %q: %+v %v", m.String(), got, ok)
	}
	if old, ok := ParseSchemaMarker("mzsync:v1 schema=app version=v1 digest=sha256:d state=built live=1"); !ok || old.Revision != "" {
		t.Fatalf("a marker without revision: %+v %v", old, ok)
	}
}
