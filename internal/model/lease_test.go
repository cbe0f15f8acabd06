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
