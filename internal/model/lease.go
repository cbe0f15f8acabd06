package model

import (
	"fmt"
	"net/url"
	"strings"
	"time"
)

// LeaseSchema is the schema whose existence is the apply lease, its
// record (internal/reconcile takes and releases it; internal/observed
// reports it as Observed.Lease and never as a managed schema).
const LeaseSchema = "mzsync_lease"

// Helper schemas of the lease protocol (see internal/reconcile's package
// documentation). None of them is ever a managed schema.
const (
	// LeaseFencePrefix + token is the fence of the holder with that token:
	// it exists exactly while that holder holds the lease.
	LeaseFencePrefix = LeaseSchema + "_fence_"
	// LeaseNewPrefix + token is a contender's record, commented before it
	// is renamed into LeaseSchema.
	LeaseNewPrefix = LeaseSchema + "_new_"
	// LeasePendingPrefix + token is a contender's fence, renamed to
	// LeaseFencePrefix + token in the same transaction.
	LeasePendingPrefix = LeaseSchema + "_pending_"
	// StaleLeasePrefix starts the names a takeover or a release renames the
	// previous lease's schemas to before dropping them.
	StaleLeasePrefix = LeaseSchema + "_stale_"
)

// IsLeaseSchema reports whether name is the lease record or one of the
// lease protocol's helper schemas.
func IsLeaseSchema(name string) bool {
	return name == LeaseSchema || strings.HasPrefix(name, LeaseSchema+"_")
}

// LeaseCommentPrefix starts the lease schema's comment.
const LeaseCommentPrefix = "mzsync:lease"

// String encodes the lease as the lease schema's comment:
// mzsync:lease owner=<path-escaped id> expires=<RFC3339Nano> [token=<token>].
func (l Lease) String() string {
	s := fmt.Sprintf("%s owner=%s expires=%s", LeaseCommentPrefix, url.PathEscape(l.Owner), l.Expires.UTC().Format(time.RFC3339Nano))
	if l.Token != "" {
		s += " token=" + url.PathEscape(l.Token)
	}
	return s
}

// ParseLeaseComment decodes a lease comment. ok is false for anything
// else, including a comment without owner or expiry. Token is empty in a
// comment written by an mzsync older than the fenced lease.
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
		case "token":
			tok, err := url.PathUnescape(v)
			if err != nil {
				return Lease{}, false
			}
			l.Token = tok
		}
	}
	if l.Owner == "" || l.Expires.IsZero() {
		return Lease{}, false
	}
	return l, true
}
