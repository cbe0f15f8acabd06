package propose

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/mzsync/mzsync/internal/drift"
	"github.com/mzsync/mzsync/internal/model"
	"github.com/mzsync/mzsync/spec"
)

// File is one proposed manifest.
type File struct {
	// Path is slash-separated and relative to the proposal directory:
	// <schema>/<version>.yaml.
	Path    string
	Content []byte
	// Version is the proposed version; Replaces the drifted active one.
	Version  model.VersionID
	Replaces model.VersionID
	// Existing is set when no file is proposed: Version is declared, newer
	// than the drifted one, built, and already ingests every new upstream
	// column (e.g. after a rollback away from it). Setting it active again
	// is the fix; Path and Content are empty.
	Existing bool
}

// Next proposes one new version per drifted active version in rep. A
// drifted version that the manifests do not declare is skipped: there is
// nothing to copy from.
func Next(des *model.Desired, rep *drift.Report) []File { return NextObserved(des, rep, nil) }

// NextObserved is Next knowing the catalog: when a declared version newer
// than a drifted one is built and already ingests what upstream added, it
// points at that version (File.Existing) instead of proposing a copy of
// the old one. obs may be nil.
func NextObserved(des *model.Desired, rep *drift.Report, obs *model.Observed) []File {
	byVersion := map[model.VersionID][]drift.Table{}
	var order []model.VersionID
	for _, t := range rep.Tables {
		if _, seen := byVersion[t.Version]; !seen {
			order = append(order, t.Version)
		}
		byVersion[t.Version] = append(byVersion[t.Version], t)
	}
	var out []File
	for _, id := range order {
		schema, version := find(des, id)
		if version == nil {
			continue
		}
		if w := ingestingAlready(schema, id, byVersion[id], obs); w != nil {
			out = append(out, File{Version: w.ID, Replaces: id, Existing: true})
			continue
		}
		next := nextName(schema, id.Version)
		out = append(out, File{
			Path:     id.Schema + "/" + next + ".yaml",
			Content:  render(schema, version, next, byVersion[id]),
			Version:  model.VersionID{Schema: id.Schema, Version: next},
			Replaces: id,
		})
	}
	return out
}

// ingestingAlready finds the newest declared version after id whose
// built schema ingests every column the drifted tables lack, for drift
// that is only "behind".
func ingestingAlready(s *model.Schema, id model.VersionID, tables []drift.Table, obs *model.Observed) *model.Version {
	if obs == nil {
		return nil
	}
	for _, t := range tables {
		if len(t.Problems) > 0 {
			return nil
		}
	}
	for i := len(s.Versions) - 1; i >= 0; i-- {
		w := &s.Versions[i]
		if model.CompareVersions(w.ID.Version, id.Version) <= 0 {
			break
		}
		var loc *model.ObservedSchema
		for j := range obs.Schemas {
			m := obs.Schemas[j].Marker
			if m != nil && m.ID() == w.ID && m.Digest == w.Digest && m.Built() {
				loc = &obs.Schemas[j]
			}
		}
		if loc != nil && ingestsAll(w, loc, tables) {
			return w
		}
	}
	return nil
}

func ingestsAll(w *model.Version, loc *model.ObservedSchema, tables []drift.Table) bool {
	for _, t := range tables {
		var decl *model.Object
		for k := range w.Objects {
			if o := &w.Objects[k]; o.Kind == model.KindTable && o.Reference == t.Upstream {
				decl = o
			}
		}
		if decl == nil {
			return false
		}
		var ob *model.ObservedObject
		for k := range loc.Objects {
			if loc.Objects[k].Name == decl.Name && loc.Objects[k].Marker != nil {
				ob = &loc.Objects[k]
			}
		}
		if ob == nil {
			return false
		}
		have := map[string]bool{}
		for _, c := range ob.Columns {
			have[c.Name] = true
		}
		for _, c := range t.NewColumns {
			if !have[c] {
				return false
			}
		}
	}
	return true
}

func find(des *model.Desired, id model.VersionID) (*model.Schema, *model.Version) {
	for i := range des.Schemas {
		if des.Schemas[i].Name == id.Schema {
			v, _ := des.Schemas[i].Version(id.Version)
			return &des.Schemas[i], v
		}
	}
	return nil, nil
}

// nextName increments the trailing number of the newest declared version
// (v2 -> v3; a name without one gets _2), skipping names already taken.
func nextName(s *model.Schema, from string) string {
	newest := from
	for _, v := range s.Versions {
		if model.CompareVersions(v.ID.Version, newest) > 0 {
			newest = v.ID.Version
		}
	}
	i := len(newest)
	for i > 0 && newest[i-1] >= '0' && newest[i-1] <= '9' {
		i--
	}
	prefix, n := newest[:i], 1
	if i < len(newest) {
		n, _ = strconv.Atoi(newest[i:])
	} else {
		prefix += "_"
	}
	for {
		n++
		name := prefix + strconv.Itoa(n)
		if _, taken := s.Version(name); !taken {
			return name
		}
	}
}

// versionDoc is the document as written: the spec's own types, so the
// proposal decodes strictly like any manifest.
type versionDoc struct {
	APIVersion string           `json:"apiVersion"`
	Kind       string           `json:"kind"`
	Metadata   spec.Metadata    `json:"metadata"`
	Spec       spec.VersionSpec `json:"spec"`
}

func render(schema *model.Schema, v *model.Version, name string, tables []drift.Table) []byte {
	doc := versionDoc{APIVersion: spec.APIVersion, Kind: "Version", Metadata: spec.Metadata{Name: name},
		Spec: spec.VersionSpec{Schema: schema.Name}}
	for _, o := range v.Objects {
		switch o.Kind {
		case model.KindTable:
			doc.Spec.Tables = append(doc.Spec.Tables, spec.Table{
				Name: o.Name, Source: o.Source.Name, Reference: o.Reference.String(),
				TextColumns: slices.Clone(o.TextColumns), ExcludeColumns: slices.Clone(o.ExcludeColumns),
			})
		case model.KindView, model.KindMaterializedView:
			doc.Spec.Views = append(doc.Spec.Views, spec.View{
				Name: o.Name, Materialized: o.Kind == model.KindMaterializedView, SQL: o.SQL,
				Cluster: unlessDefault(o.Cluster, schema.Cluster),
			})
		case model.KindIndex:
			doc.Spec.Indexes = append(doc.Spec.Indexes, spec.Index{
				Name: o.Name, On: o.On, Columns: slices.Clone(o.Columns), Cluster: unlessDefault(o.Cluster, schema.Cluster),
			})
		}
	}
	body, err := yaml.Marshal(doc)
	if err != nil {
		// Marshalling plain strings and slices cannot fail.
		panic(fmt.Sprintf("propose: marshal version: %v", err))
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "# Proposed by mzsync drift: %s/%s is a copy of %s, so that its tables are\n", schema.Name, name, v.ID)
	b.WriteString("# ingested again with upstream's current columns. Upstream changed:\n")
	for _, t := range tables {
		if len(t.NewColumns) > 0 {
			fmt.Fprintf(&b, "#   %s (%s): new columns %s\n", t.Table, t.Upstream, strings.Join(t.NewColumns, ", "))
		}
		for _, p := range t.Problems {
			fmt.Fprintf(&b, "#   %s (%s): %s\n", t.Table, t.Upstream, p)
		}
	}
	b.WriteString("# Review the views below (use the new columns, drop references to removed\n")
	fmt.Fprintf(&b, "# ones), then set `active: %s` in the Schema %s and open a pull request.\n", name, schema.Name)
	b.Write(body)
	return b.Bytes()
}

func unlessDefault(cluster, def string) string {
	if cluster == def {
		return ""
	}
	return cluster
}
