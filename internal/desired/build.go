package desired

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"sort"
	"time"

	"github.com/mzsync/mzsync/internal/model"
	"github.com/mzsync/mzsync/spec"
)

// digestFormat versions the canonical encodings below. Changing what a
// digest covers changes every digest, which reads as drift: bump it only
// with a migration in mind.
const digestFormat = 1

// build turns validated manifests into the normalized model.
func build(ms []*spec.Manifest) *model.Desired {
	d := &model.Desired{}
	sources := map[string]model.Source{}
	schemas := map[string]*model.Schema{}
	for _, m := range ms {
		switch {
		case m.Source != nil:
			s := buildSource(m.Metadata.Name, m.Source)
			sources[s.Name] = s
			d.Sources = append(d.Sources, s)
		case m.Schema != nil:
			schemas[m.Metadata.Name] = buildSchema(m.Metadata.Name, m.Schema)
		}
	}
	for _, m := range ms {
		if m.Version != nil {
			s := schemas[m.Version.Schema]
			s.Versions = append(s.Versions, buildVersion(m.Metadata.Name, m.Version, s, sources))
		}
	}
	sort.Slice(d.Sources, func(i, j int) bool { return d.Sources[i].Name < d.Sources[j].Name })
	for _, s := range schemas {
		sort.Slice(s.Versions, func(i, j int) bool {
			return model.CompareVersions(s.Versions[i].ID.Version, s.Versions[j].ID.Version) < 0
		})
		d.Schemas = append(d.Schemas, *s)
	}
	sort.Slice(d.Schemas, func(i, j int) bool { return d.Schemas[i].Name < d.Schemas[j].Name })
	return d
}

func buildSource(name string, s *spec.SourceSpec) model.Source {
	out := model.Source{Name: name, Schema: s.Schema, Cluster: s.Cluster, Publication: s.Postgres.Publication}
	if out.Schema == "" {
		out.Schema = spec.DefaultSourceSchema
	}
	cs, cn, _ := spec.ParseQualifiedName(s.Postgres.Connection, out.Schema)
	out.Connection = cs + "." + cn
	if s.Upstream != nil {
		out.UpstreamURLEnv = s.Upstream.URLEnv
	}
	out.Digest = digest(struct {
		Format      int    `json:"format"`
		Kind        string `json:"kind"`
		Schema      string `json:"schema"`
		Name        string `json:"name"`
		Cluster     string `json:"cluster"`
		Connection  string `json:"connection"`
		Publication string `json:"publication"`
	}{digestFormat, "source", out.Schema, out.Name, out.Cluster, out.Connection, out.Publication})
	return out
}

func buildSchema(name string, s *spec.SchemaSpec) *model.Schema {
	out := &model.Schema{Name: name, Active: s.Active, Retain: spec.DefaultRetain, Cluster: s.Cluster, SwapGroup: s.SwapGroup}
	if s.Retain != nil {
		out.Retain = *s.Retain
	}
	if s.Prune != nil {
		out.Prune = *s.Prune
	}
	if out.Cluster == "" {
		out.Cluster = spec.DefaultCluster
	}
	maxLag, timeout := spec.DefaultMaxLag, spec.DefaultTimeout
	if r := s.Readiness; r != nil {
		if r.MaxLag != "" {
			maxLag = r.MaxLag
		}
		if r.Timeout != "" {
			timeout = r.Timeout
		}
	}
	for _, g := range s.Grants {
		out.Grants = append(out.Grants, model.Grant{Role: g.Role, Privileges: sortedCopy(g.Privileges)})
	}
	sort.Slice(out.Grants, func(i, j int) bool { return out.Grants[i].Role < out.Grants[j].Role })
	// Validate has parsed both.
	out.Readiness.MaxLag, _ = time.ParseDuration(maxLag)
	out.Readiness.Timeout, _ = time.ParseDuration(timeout)
	return out
}

func buildVersion(name string, v *spec.VersionSpec, schema *model.Schema, sources map[string]model.Source) model.Version {
	out := model.Version{ID: model.VersionID{Schema: schema.Name, Version: name}, AdoptFrom: v.AdoptFrom}
	objects := map[string]bool{}
	for _, t := range v.Tables {
		objects[t.Name] = true
	}
	for _, vw := range v.Views {
		objects[vw.Name] = true
	}

	tables := make([]model.Object, 0, len(v.Tables))
	for _, t := range v.Tables {
		us, ut, _ := spec.ParseReference(t.Reference)
		tables = append(tables, model.Object{
			Kind:           model.KindTable,
			Name:           t.Name,
			Source:         sources[t.Source].Ref(),
			Reference:      model.UpstreamRef{Schema: us, Table: ut},
			TextColumns:    sortedCopy(t.TextColumns),
			ExcludeColumns: sortedCopy(t.ExcludeColumns),
		})
	}
	sort.Slice(tables, func(i, j int) bool {
		a, b := tables[i], tables[j]
		if a.Source != b.Source {
			return a.Source.String() < b.Source.String()
		}
		return a.Name < b.Name
	})
	out.Objects = append(out.Objects, tables...)

	order, _ := spec.ViewOrder(v.Views) // Validate has refused cycles.
	for _, i := range order {
		vw := v.Views[i]
		o := model.Object{Kind: model.KindView, Name: vw.Name, SQL: spec.CanonicalSQL(vw.SQL)}
		if vw.Materialized {
			o.Kind = model.KindMaterializedView
			o.Cluster = vw.Cluster
			if o.Cluster == "" {
				o.Cluster = schema.Cluster
			}
		}
		for _, r := range spec.Relations(vw.SQL) {
			if objects[r] && r != vw.Name {
				o.DependsOn = append(o.DependsOn, r)
			}
		}
		out.Objects = append(out.Objects, o)
	}

	indexes := make([]model.Object, 0, len(v.Indexes))
	for _, ix := range v.Indexes {
		o := model.Object{
			Kind:      model.KindIndex,
			Name:      ix.ResolvedName(),
			On:        ix.On,
			Columns:   append([]string(nil), ix.Columns...),
			Cluster:   ix.Cluster,
			DependsOn: []string{ix.On},
		}
		if len(o.Columns) == 0 {
			o.Columns = nil
		}
		if o.Cluster == "" {
			o.Cluster = schema.Cluster
		}
		indexes = append(indexes, o)
	}
	sort.Slice(indexes, func(i, j int) bool { return indexes[i].Name < indexes[j].Name })
	out.Objects = append(out.Objects, indexes...)

	digests := make([]string, len(out.Objects))
	for i := range out.Objects {
		out.Objects[i].Digest = objectDigest(&out.Objects[i])
		digests[i] = out.Objects[i].Digest
	}
	sort.Strings(digests)
	out.Digest = digest(struct {
		Format  int      `json:"format"`
		Objects []string `json:"objects"`
	}{digestFormat, digests})
	return out
}

// objectDigest covers everything that defines the object in Materialize:
// its kind, name, and the fields of its kind, with the cluster resolved and
// the SQL in canonical form. DependsOn is derived from SQL and left out.
func objectDigest(o *model.Object) string {
	type ref struct {
		Schema string `json:"schema"`
		Name   string `json:"name"`
	}
	c := struct {
		Format         int      `json:"format"`
		Kind           string   `json:"kind"`
		Name           string   `json:"name"`
		Source         *ref     `json:"source,omitempty"`
		Reference      *ref     `json:"reference,omitempty"`
		TextColumns    []string `json:"textColumns,omitempty"`
		ExcludeColumns []string `json:"excludeColumns,omitempty"`
		SQL            string   `json:"sql,omitempty"`
		Cluster        string   `json:"cluster,omitempty"`
		On             string   `json:"on,omitempty"`
		Columns        []string `json:"columns,omitempty"`
	}{
		Format: digestFormat, Kind: string(o.Kind), Name: o.Name,
		TextColumns: o.TextColumns, ExcludeColumns: o.ExcludeColumns,
		SQL: o.SQL, Cluster: o.Cluster, On: o.On, Columns: o.Columns,
	}
	if o.Kind == model.KindTable {
		c.Source = &ref{o.Source.Schema, o.Source.Name}
		c.Reference = &ref{o.Reference.Schema, o.Reference.Table}
	}
	return digest(c)
}

// digest is sha256:<hex> of v's JSON encoding. encoding/json writes struct
// fields in declaration order and escapes strings one way, so the encoding
// is canonical for the fixed structs used here.
func digest(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic("desired: digest encoding: " + err.Error()) // plain structs of strings cannot fail
	}
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

func sortedCopy(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}
