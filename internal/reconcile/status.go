package reconcile

import (
	"cmp"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/mzsync/mzsync/internal/model"
	"github.com/mzsync/mzsync/internal/textout"
)

// StatusFormatVersion is the version of RenderStatusJSON's format.
const StatusFormatVersion = 1

// The roles a version plays in a schema's status.
const (
	RoleActive     = "active"     // held by the alias schema
	RoleRetained   = "retained"   // built and live before: a rollback target
	RoleStaged     = "staged"     // built or building, never live
	RoleUndeclared = "undeclared" // built, but the manifests no longer declare it
	RoleNotBuilt   = "not-built"  // declared and kept, but no schema holds it
)

// StatusReport is the state of every managed schema: what the catalog
// holds, and, when a desired state is given, how it compares.
type StatusReport struct {
	Fingerprint string `json:"fingerprint"`
	// Revision is the desired state's revision; "" without one.
	Revision string         `json:"revision"`
	Schemas  []SchemaStatus `json:"schemas"`
	// Lease is the apply lease as the catalog shows it, with the expiry
	// of its last renewal; nil when no one holds it.
	Lease *LeaseStatus `json:"lease"`
	// Trash lists the schemas an interrupted drop left renamed out of the
	// namespace (model.TrashPrefix, with mzsync's marker): the next apply
	// that takes the lease drops them.
	Trash []TrashStatus `json:"trash"`
}

// LeaseStatus is the apply lease in a status report.
type LeaseStatus struct {
	// Owner is empty for a lease being acquired.
	Owner string `json:"owner"`
	// Expires is judged by the server's clock; the zero time when unknown.
	Expires time.Time `json:"expires"`
}

// TrashStatus is a retired schema not dropped yet.
type TrashStatus struct {
	Schema string `json:"schema"`
	// Version is the version it held.
	Version string `json:"version"`
}

// SchemaStatus is one managed schema.
type SchemaStatus struct {
	Name string `json:"name"`
	// Declared says a Schema manifest declares it (false without a
	// desired state, or when only version markers name it).
	Declared bool `json:"declared"`
	// Alias is "owned" (the alias schema holds a version), "unowned" (a
	// schema with the alias name lacks mzsync's marker) or "missing".
	Alias string `json:"alias"`
	// Active is the version the alias holds; DesiredActive the one the
	// manifests want there.
	Active        string          `json:"active"`
	DesiredActive string          `json:"desired_active"`
	Retained      []string        `json:"retained"`
	Staged        []string        `json:"staged"`
	Versions      []VersionStatus `json:"versions"`
	// Drift lists owned objects that differ from their declaration.
	Drift []Finding `json:"drift"`
	// Unowned lists objects without mzsync's marker in the schema's
	// version schemas (schema.name); they are left alone.
	Unowned []string `json:"unowned"`
}

// VersionStatus is one version of a schema.
type VersionStatus struct {
	Version string `json:"version"`
	// Schema is the catalog schema that holds it; "" when not built.
	Schema string `json:"schema"`
	Role   string `json:"role"`
	// State is the version's lifecycle as its schema marker records it:
	// not-built, building, built (never live) or live (live now or before).
	State     string           `json:"state"`
	Digest    string           `json:"digest"`
	Readiness VersionReadiness `json:"readiness"`
}

// Finding is a drift or conflict, for status.
type Finding struct {
	Target string `json:"target"`
	Kind   string `json:"kind"`
	Reason string `json:"reason"`
}

// Status reports every managed schema: those the desired state declares
// (des may be nil) and those named by version markers in the catalog. It
// is pure.
func Status(obs *model.Observed, des *model.Desired) StatusReport {
	if obs == nil {
		obs = &model.Observed{}
	}
	ix := newIndex(obs, "")
	r := StatusReport{Fingerprint: obs.Fingerprint, Schemas: []SchemaStatus{}, Trash: []TrashStatus{}}
	if obs.Lease != nil {
		r.Lease = &LeaseStatus{Owner: obs.Lease.Owner, Expires: obs.Lease.Expires}
	}
	for _, t := range ix.trash {
		r.Trash = append(r.Trash, TrashStatus{Schema: t.Name, Version: t.Marker.ID().String()})
	}
	declared := map[string]*model.Schema{}
	if des != nil {
		r.Revision = des.Revision
		for i := range des.Schemas {
			declared[des.Schemas[i].Name] = &des.Schemas[i]
		}
	}
	for _, name := range managedSchemaNames(obs, des) {
		r.Schemas = append(r.Schemas, schemaStatus(ix, name, declared[name]))
	}
	return r
}

func schemaStatus(ix *index, name string, s *model.Schema) SchemaStatus {
	st := SchemaStatus{Name: name, Declared: s != nil, Alias: "missing",
		Retained: []string{}, Staged: []string{}, Versions: []VersionStatus{}, Drift: []Finding{}, Unowned: []string{}}
	exclude := ""
	if s != nil {
		exclude = s.Active
	}
	lc := newLifecycle(ix, name, exclude)
	canon := lc.canon
	alias := ix.schemas[name]
	if alias != nil {
		st.Alias = "unowned"
		if alias.Marker != nil && alias.Marker.Schema == name {
			st.Alias = "owned"
			st.Active = alias.Marker.Version
		}
	}
	// order ranks versions: declaration order, then undeclared ones by
	// natural order after them.
	declIdx := map[string]int{}
	if s != nil {
		st.DesiredActive = s.Active
		for i, v := range s.Versions {
			declIdx[v.ID.Version] = i
		}
	}
	names := map[string]bool{}
	for v := range canon {
		names[v] = true
	}
	// Versions the lease holder is building right now, in its private
	// schemas, are shown there as building.
	inProgress := map[string]*model.ObservedSchema{}
	for _, b := range ix.building[name] {
		if canon[b.Marker.Version] == nil {
			inProgress[b.Marker.Version] = b
			names[b.Marker.Version] = true
		}
	}
	if s != nil {
		for v := range lc.keep(s) {
			if _, ok := s.Version(v); ok {
				names[v] = true
			}
		}
	}
	order := slices.Collect(maps.Keys(names))
	slices.SortFunc(order, func(a, b string) int {
		ia, oka := declIdx[a]
		ib, okb := declIdx[b]
		switch {
		case oka && okb:
			return cmp.Compare(ia, ib)
		case oka != okb:
			if oka {
				return -1
			}
			return 1
		}
		return model.CompareVersions(a, b)
	})

	for _, ver := range order {
		loc := canon[ver]
		id := model.VersionID{Schema: name, Version: ver}
		vs := VersionStatus{Version: ver, State: lc.state(ver)}
		var decl *model.Version
		if s != nil {
			decl, _ = s.Version(ver)
		}
		switch {
		case loc == nil && inProgress[ver] != nil:
			vs.Role, vs.State, vs.Schema = RoleStaged, model.StateBuilding, inProgress[ver].Name
		case loc == nil:
			vs.Role = RoleNotBuilt
		case loc == alias:
			vs.Role = RoleActive
		case decl == nil && s != nil:
			vs.Role = RoleUndeclared
		case lc.everLive(ver):
			vs.Role = RoleRetained
		default:
			vs.Role = RoleStaged
		}
		v := decl
		if loc != nil {
			vs.Schema, vs.Digest = loc.Name, loc.Marker.Digest
		}
		if v == nil || (loc != nil && loc.Marker.Digest != v.Digest) {
			// Without a matching declaration, judge readiness on what is there.
			v = observedVersion(id, loc)
		}
		vs.Readiness = readiness(ix, v, s)
		if loc == nil && inProgress[ver] != nil {
			vs.Readiness.Schema = inProgress[ver].Name
		}
		switch vs.Role {
		case RoleRetained:
			st.Retained = append(st.Retained, ver)
		case RoleStaged:
			st.Staged = append(st.Staged, ver)
		}
		if loc != nil {
			switch {
			case decl != nil && decl.Digest == loc.Marker.Digest:
				deployed := vs.Role == RoleActive || vs.Role == RoleRetained || loc.Marker.Built()
				for _, f := range inspect(ix, loc, loc.Name, decl, deployed).findings {
					if f.Op != OpIgnored {
						st.Drift = append(st.Drift, Finding{Target: f.Target, Kind: f.Kind, Reason: f.Reason})
					}
				}
				if s != nil && loc.Marker.Built() {
					for _, d := range versionGrantDrift(ix, s, decl, loc) {
						st.Drift = append(st.Drift, Finding{Target: d.Object, Kind: KindGrant, Reason: "grant drift: " + d.String()})
					}
				}
			case decl != nil:
				st.Drift = append(st.Drift, Finding{Target: loc.Name, Kind: KindSchema,
					Reason: fmt.Sprintf("holds %s with digest %s but the manifests say %s; versions are immutable", id, loc.Marker.Digest, decl.Digest)})
			}
			for _, o := range loc.Objects {
				if o.Marker == nil {
					st.Unowned = append(st.Unowned, loc.Name+"."+o.Name)
				}
			}
		}
		st.Versions = append(st.Versions, vs)
	}
	return st
}

// observedVersion stands in for a version the manifests do not describe
// (or when there are no manifests): its owned objects as observed.
func observedVersion(id model.VersionID, loc *model.ObservedSchema) *model.Version {
	v := &model.Version{ID: id}
	if loc == nil {
		return v
	}
	v.Digest = loc.Marker.Digest
	for _, o := range loc.Objects {
		if o.Marker == nil {
			continue
		}
		v.Objects = append(v.Objects, model.Object{Kind: o.Kind, Name: o.Name, Cluster: o.Cluster, Digest: o.Marker.Digest})
	}
	return v
}

// RenderStatusText writes the status report as ASCII text, one block per
// schema.
func RenderStatusText(w io.Writer, r StatusReport) error {
	var b strings.Builder
	if r.Lease != nil {
		owner := r.Lease.Owner
		if owner == "" {
			owner = "(being acquired)"
		}
		fmt.Fprintf(&b, "apply lease: held by %s", owner)
		if !r.Lease.Expires.IsZero() {
			fmt.Fprintf(&b, " until %s (server clock, last renewal)", r.Lease.Expires.UTC().Format(time.RFC3339))
		}
		b.WriteString("\n\n")
	}
	if len(r.Schemas) == 0 {
		b.WriteString("No managed schemas.\n")
	}
	for i, s := range r.Schemas {
		if i > 0 {
			b.WriteByte('\n')
		}
		active := s.Active
		if active == "" {
			active = "none"
		}
		fmt.Fprintf(&b, "schema %s: active %s", s.Name, active)
		if s.Declared && s.DesiredActive != s.Active {
			fmt.Fprintf(&b, " (manifests want %s)", s.DesiredActive)
		}
		if !s.Declared {
			b.WriteString(" (no Schema manifest)")
		}
		switch s.Alias {
		case "unowned":
			fmt.Fprintf(&b, "; schema %s exists without mzsync's marker", s.Name)
		case "missing":
			fmt.Fprintf(&b, "; schema %s does not exist", s.Name)
		}
		b.WriteByte('\n')
		for _, v := range s.Versions {
			where := v.Schema
			if where == "" {
				where = "-"
			}
			rd := v.Readiness
			state := fmt.Sprintf("ready %d/%d", rd.ReadyObjects, rd.Total)
			if !rd.Ready {
				state = fmt.Sprintf("not ready %d/%d", rd.ReadyObjects, rd.Total)
			}
			fmt.Fprintf(&b, "  %-10s %-10s %-9s %-20s %s\n", v.Version, v.Role, v.State, where, state)
			for _, p := range rd.Pending {
				fmt.Fprintf(&b, "      waiting: %s: %s\n", p.Target, strings.Join(p.Reasons, ", "))
			}
		}
		for _, d := range s.Drift {
			fmt.Fprintf(&b, "  drift: %s %s: %s\n", d.Kind, d.Target, d.Reason)
		}
		for _, u := range s.Unowned {
			fmt.Fprintf(&b, "  unowned (left alone): %s\n", u)
		}
	}
	if len(r.Trash) > 0 {
		b.WriteString("\nleftover of an interrupted drop (the next apply drops it):\n")
		for _, t := range r.Trash {
			fmt.Fprintf(&b, "  trash %s (held %s)\n", t.Schema, t.Version)
		}
	}
	if _, err := io.WriteString(w, textout.ASCIILines(b.String())); err != nil {
		return fmt.Errorf("write status: %w", err)
	}
	return nil
}

// RenderStatusJSON writes the status report as indented JSON with
// format_version 1.
func RenderStatusJSON(w io.Writer, r StatusReport) error {
	return textout.WriteJSON(w, struct {
		FormatVersion int `json:"format_version"`
		StatusReport
	}{StatusFormatVersion, r})
}
