package reconcile

import (
	"cmp"
	"slices"

	"github.com/mzsync/mzsync/internal/model"
)

// lifecycle is what the catalog says about the versions of one alias
// schema: where each is, how far its build got, and which were live, in
// which order. It is read from the schema markers alone; nothing is
// inferred from version names, except for markers written before build
// states were recorded (see everLive).
type lifecycle struct {
	name         string
	canon        map[string]*model.ObservedSchema
	dups         []*model.ObservedSchema
	alias        *model.ObservedSchema
	aliasOwned   bool
	aliasVersion string
	// maxLive is the highest live sequence number recorded.
	maxLive int
	// history lists the versions live before exclude (the desired active
	// version, or none), most recent first: the alias's version, then the
	// newest live record's own history, then other live versions by their
	// sequence number, then versions with pre-state markers that preceded
	// the alias.
	history []string
}

func newLifecycle(ix *index, name, exclude string) *lifecycle {
	lc := &lifecycle{name: name}
	lc.canon, lc.dups = ix.versionSchemas(name)
	lc.alias = ix.schemas[name]
	lc.aliasOwned = lc.alias != nil && lc.alias.Marker != nil && lc.alias.Marker.Schema == name
	if lc.aliasOwned {
		lc.aliasVersion = lc.alias.Marker.Version
	}
	var newest *model.SchemaMarker
	var lives, legacy []*model.SchemaMarker
	for _, loc := range lc.canon {
		m := loc.Marker
		lc.maxLive = max(lc.maxLive, m.Live)
		if m.Live > 0 {
			lives = append(lives, m)
			if newest == nil || m.Live > newest.Live {
				newest = m
			}
		} else if loc != lc.alias && lc.everLive(m.Version) {
			legacy = append(legacy, m)
		}
	}
	slices.SortFunc(lives, func(a, b *model.SchemaMarker) int {
		return cmp.Or(cmp.Compare(b.Live, a.Live), model.CompareVersions(b.Version, a.Version))
	})
	slices.SortFunc(legacy, func(a, b *model.SchemaMarker) int { return model.CompareVersions(b.Version, a.Version) })
	seen := map[string]bool{exclude: true}
	add := func(v string) {
		if v != "" && !seen[v] {
			seen[v] = true
			lc.history = append(lc.history, v)
		}
	}
	add(lc.aliasVersion)
	if newest != nil {
		add(newest.Version)
		for _, h := range newest.History {
			add(h)
		}
	}
	for _, m := range lives {
		add(m.Version)
	}
	for _, m := range legacy {
		add(m.Version)
	}
	return lc
}

// everLive reports whether the observed version has been live: it is held
// by the alias, or its marker records a cutover. A marker written before
// build states were recorded carries no such record; such a version counts
// as live once when it precedes the alias's version, as older mzsync
// deployed them.
func (lc *lifecycle) everLive(ver string) bool {
	loc := lc.canon[ver]
	if loc == nil {
		return false
	}
	if lc.aliasOwned && loc == lc.alias {
		return true
	}
	if loc.Marker.Live > 0 {
		return true
	}
	return loc.Marker.State == "" && lc.aliasOwned && model.CompareVersions(ver, lc.aliasVersion) < 0
}

// state names a version's lifecycle state for status: not-built,
// building, built (never live) or live (live now or before).
func (lc *lifecycle) state(ver string) string {
	loc := lc.canon[ver]
	switch {
	case loc == nil:
		return "not-built"
	case lc.everLive(ver):
		return "live"
	case !loc.Marker.Built():
		return model.StateBuilding
	}
	return model.StateBuilt
}

// retained picks the versions retention keeps besides the active one: the
// first retain entries of the history that can be kept, i.e. are built or
// declared (and so can be rebuilt).
func (lc *lifecycle) retained(s *model.Schema) []string {
	var out []string
	for _, h := range lc.history {
		if len(out) >= s.Retain {
			break
		}
		if _, declared := s.Version(h); lc.canon[h] == nil && !declared {
			continue
		}
		out = append(out, h)
	}
	return out
}

// keep is the set of versions a schema keeps: the active one, the declared
// versions newer than it (staged) and the retained ones.
func (lc *lifecycle) keep(s *model.Schema) map[string]bool {
	keep := map[string]bool{s.Active: true}
	for _, v := range s.Versions {
		if model.CompareVersions(v.ID.Version, s.Active) > 0 {
			keep[v.ID.Version] = true
		}
	}
	for _, r := range lc.retained(s) {
		keep[r] = true
	}
	return keep
}
