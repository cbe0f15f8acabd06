package model

import (
	"fmt"
	"net/url"
	"strings"
	"time"
)

// LeaseSchema is the schema whose existence is the apply lease
// (internal/reconcile takes and releases it; internal/observed reports it
// as Observed.Lease and never as a managed schema).
const LeaseSchema = "mzsync_lease"

// StaleLeasePrefix starts the names a takeover renames an expired lease
// schema to before dropping it.
const StaleLeasePrefix = LeaseSchema + "_stale_"

// LeaseCommentPrefix starts the lease schema's comment.
const LeaseCommentPrefix = "mzsync:lease"

// String encodes the lease as the lease schema's comment:
// mzsync:lease owner=<path-escaped id> expires=<RFC3339Nano>.
func (l Lease) String() string {
	return fmt.Sprintf("%s owner=%s expires=%s", LeaseCommentPrefix, url.PathEscape(l.Owner), l.Expires.UTC().Format(time.RFC3339Nano))
}

// ParseLeaseComment decodes a lease comment. ok is false for anything
// else, including a comment without owner or expiry.
func ParseLeaseComment(comment string) (l Lease, ok bool) {
	rest, found := strings.CutPrefix(comment, LeaseCommentPrefix+" ")
	if !found {
		return Lease{}, false
	}
	for _, f := range strings.Fields(rest) {
		k, v, _ := strings.Cut(f, "=")
		switch k {
		case "owner":
			o, err := url.PathUnescape(v)
			if err != nil {
				return Lease{}, false
			}
			l.Owner = o
		case "expires":
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				return Lease{}, false
			}
			l.Expires = t
		}
	}
	if l.Owner == "" || l.Expires.IsZero() {
		return Lease{}, false
	}
	return l, true
}
