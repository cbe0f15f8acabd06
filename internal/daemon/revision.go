package daemon

import (
	"context"
	"fmt"
	"regexp"

	"github.com/mzsync/mzsync/internal/model"
	"github.com/mzsync/mzsync/internal/reconcile"
)

// Ancestry answers whether one commit is an ancestor of another
// (desired.GitSource implements it over its cache).
type Ancestry interface {
	// IsAncestor reports whether older is an ancestor of, or equal to,
	// newer; known is false when either commit is unknown.
	IsAncestor(older, newer string) (yes, known bool, err error)
}

var commitRE = regexp.MustCompile(`^[0-9a-f]{40}$`)

// RevisionGuard refuses to apply a git revision older than the one a
// declared schema's live version went live from (recorded in its live
// marker), so a stale cache, for instance after the remote was unreachable
// at start-up, never rolls production back. A revision that is not known
// to descend from the live one is refused too while the remote cannot be
// reached; with the remote reachable it is the branch's head, and applied.
// Rolling back is done by committing the old manifests, or by running
// without the guard (mzsync run --allow-older-revision).
func RevisionGuard(anc Ancestry, obs reconcile.Observer) func(ctx context.Context, des *model.Desired, fetchFailed bool) error {
	return func(ctx context.Context, des *model.Desired, fetchFailed bool) error {
		if !commitRE.MatchString(des.Revision) {
			return nil
		}
		o, err := obs.Observe(ctx)
		if err != nil {
			return fmt.Errorf("revision guard: read the live revisions: %w", err)
		}
		declared := map[string]bool{}
		for _, s := range des.Schemas {
			declared[s.Name] = true
		}
		for _, s := range o.Schemas {
			m := s.Marker
			if !declared[s.Name] || m == nil || m.Schema != s.Name || m.Live == 0 || !commitRE.MatchString(m.Revision) || m.Revision == des.Revision {
				continue
			}
			older, known, err := anc.IsAncestor(des.Revision, m.Revision)
			if err != nil {
				return fmt.Errorf("revision guard: %w", err)
			}
			switch {
			case known && older:
				return fmt.Errorf("revision %s is older than %s, which schema %s's live version %s went live from; not rolling back (commit the old manifests, or run with --allow-older-revision)",
					des.Revision, m.Revision, s.Name, m.Version)
			case !known && fetchFailed:
				return fmt.Errorf("the remote is unreachable and revision %s of the cache is not known to be newer than %s, which schema %s's live version %s went live from; not applying a possibly older revision",
					des.Revision, m.Revision, s.Name, m.Version)
			}
		}
		return nil
	}
}
