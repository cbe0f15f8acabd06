package reconcile

import (
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/mzsync/mzsync/internal/model"
)

// VersionReadiness is whether a version may be cut over to, and what it
// still waits for.
type VersionReadiness struct {
	Version model.VersionID `json:"version"`
	// Schema is the catalog schema that holds the version; "" when it is
	// not built.
	Schema string `json:"schema"`
	Ready  bool   `json:"ready"`
	// ReadyObjects of Total objects are ready.
	ReadyObjects int `json:"ready_objects"`
	Total        int `json:"total"`
	// Pending lists what is not ready yet, objects in the version's order,
	// then clusters by name.
	Pending []Pending `json:"pending"`
	// Broken names, one sentence each, the tables that will never become
	// ready: Materialize stalled them for an incompatible upstream schema
	// change. A version with one is not waiting; its cutover is blocked
	// and only a new version helps.
	Broken []string `json:"broken,omitempty"`
}

// Pending is one object (or cluster) that is not ready and why.
type Pending struct {
	Target  string   `json:"target"`
	Kind    string   `json:"kind"`
	Reasons []string `json:"reasons"`
}

// The status a source-fed table reports once it ingests normally.
const statusRunning = model.StatusRunning

// Readiness evaluates the cutover gate of version v over the facts in obs:
// every source-fed table's snapshot committed and its status running;
// every materialized view and index hydrated on a replica with a known lag
// of at most schema.Readiness.MaxLag (no lag bound when MaxLag is zero);
// a healthy replica on every cluster running one of them. Views have no
// facts of their own: they are ready once they exist. schema may be nil.
//
// Readiness is pure; the caller observes once per poll.
func Readiness(obs *model.Observed, v *model.Version, schema *model.Schema) VersionReadiness {
	if obs == nil {
		obs = &model.Observed{}
	}
	return readiness(newIndex(obs, ""), v, schema)
}

func readiness(ix *index, v *model.Version, schema *model.Schema) VersionReadiness {
	r := VersionReadiness{Version: v.ID, Total: len(v.Objects), Pending: []Pending{}}
	canon, _ := ix.versionSchemas(v.ID.Schema)
	loc := canon[v.ID.Version]
	if loc == nil {
		r.Pending = append(r.Pending, Pending{Target: v.ID.String(), Kind: KindVersion, Reasons: []string{"not built"}})
		return r
	}
	r.Schema = loc.Name
	var maxLag time.Duration
	if schema != nil {
		maxLag = schema.Readiness.MaxLag
	}
	clusters := map[string]bool{}
	for i := range v.Objects {
		o := &v.Objects[i]
		ob := ix.object(loc, o.Name)
		var why []string
		switch {
		case ob == nil:
			why = append(why, "not created")
		case o.Kind == model.KindTable:
			status := ob.Status
			if status == "" {
				status = "unknown"
			}
			if ob.Error != "" {
				status += ": " + ob.Error
			}
			src, _ := ix.obs.SourceFor(ob.SourceID)
			switch {
			case model.BrokenTable(ob.Status, ob.Error):
				why = append(why, "broken, status "+status)
				r.Broken = append(r.Broken, fmt.Sprintf("table %s.%s is %s", loc.Name, o.Name, status))
			case ob.Status == model.StatusStalled && src != nil && src.Status == model.StatusStalled:
				serr := src.Error
				if serr == "" {
					serr = ob.Error
				}
				why = append(why, fmt.Sprintf("source %s.%s stalled (a source problem, possibly transient): %s", src.Schema, src.Name, serr))
			case ob.Status != statusRunning:
				why = append(why, "status "+status)
			}
			if !ob.SnapshotCommitted && !model.BrokenTable(ob.Status, ob.Error) {
				why = append([]string{"snapshot not committed"}, why...)
			}
		case o.Kind == model.KindMaterializedView || o.Kind == model.KindIndex:
			c := ob.Cluster
			if c == "" {
				c = o.Cluster
			}
			if c != "" {
				clusters[c] = true
			}
			if !ob.Hydrated {
				why = append(why, "not hydrated")
			}
			// The lag model: Materialize reports the maximum lag of the
			// last closed one-minute bucket, in whole seconds, and NULL
			// while the object was unreadable in it, so for a minute or
			// two after hydration. Unknown is not ready. maxLag 0 means no
			// lag gate at all.
			switch {
			case maxLag <= 0:
			case ob.Lag == nil:
				if ob.Hydrated {
					why = append(why, "lag unknown (Materialize reports lag once a full minute after hydration has passed)")
				}
			case ob.Lag.Truncate(time.Second) > maxLag.Truncate(time.Second):
				why = append(why, fmt.Sprintf("lag %s > %s", ob.Lag.Truncate(time.Second), maxLag.Truncate(time.Second)))
			}
		}
		if len(why) == 0 {
			r.ReadyObjects++
			continue
		}
		r.Pending = append(r.Pending, Pending{Target: loc.Name + "." + o.Name, Kind: string(o.Kind), Reasons: why})
	}
	for _, c := range slices.Sorted(maps.Keys(clusters)) {
		if why := clusterProblem(ix.obs, c); why != "" {
			r.Pending = append(r.Pending, Pending{Target: "cluster " + c, Kind: "cluster", Reasons: []string{why}})
		}
	}
	r.Ready = len(r.Pending) == 0
	return r
}

// oomLimit is how many out-of-memory kills in the last day make a replica
// count as unhealthy.
const oomLimit = 3

// clusterProblem says why a cluster cannot serve a version, or "" when it
// can: it has no replica; every replica was OOM-killed oomLimit or more
// times in the last day; or no replica is online (a replica whose status
// the catalog does not report counts as online: hydration is then the
// evidence that it computes).
func clusterProblem(obs *model.Observed, name string) string {
	for _, c := range obs.Clusters {
		if c.Name != name {
			continue
		}
		if len(c.Replicas) == 0 {
			return fmt.Sprintf("cluster %s has no replica", name)
		}
		oom := 0
		for _, r := range c.Replicas {
			if r.OOMKills >= oomLimit {
				oom++
			}
		}
		if oom == len(c.Replicas) {
			return fmt.Sprintf("cluster %s is unhealthy: every replica was OOM-killed %d or more times in the last day", name, oomLimit)
		}
		for _, r := range c.Replicas {
			if (r.Status == "online" || r.Status == "") && r.OOMKills < oomLimit {
				return ""
			}
		}
		return fmt.Sprintf("cluster %s has no healthy replica", name)
	}
	return fmt.Sprintf("cluster %s does not exist", name)
}
