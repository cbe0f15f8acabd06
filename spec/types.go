package spec

// APIVersion is the only apiVersion this package reads.
const APIVersion = "mzsync.dev/v1alpha1"

// The kinds of manifest documents.
const (
	KindSource  = "Source"
	KindSchema  = "Schema"
	KindVersion = "Version"
)

// Defaults applied to fields a manifest leaves out.
const (
	DefaultSourceSchema   = "public"
	DefaultCluster        = "quickstart"
	DefaultRetain         = 1
	DefaultMaxLag         = "1s"
	DefaultTimeout        = "30m"
	DefaultUpstreamSchema = "public"
)

// Metadata names a document, Kubernetes style.
type Metadata struct {
	Name string `json:"name" required:"true" doc:"The object's name: lower case, [a-z_][a-z0-9_$]*, at most 255 bytes." pattern:"^[a-z_][a-z0-9_$]*$"`
}

// SourceSpec declares a PostgreSQL source. mzsync creates it when it is
// missing and never alters or drops it.
type SourceSpec struct {
	Schema   string         `json:"schema,omitempty" doc:"Materialize schema the source object lives in." default:"public"`
	Cluster  string         `json:"cluster,omitempty" doc:"Cluster that runs the source's ingestion (IN CLUSTER). Optional: without it Materialize puts the source on the active cluster of mzsync's session (the session variable cluster, quickstart by default)."`
	Postgres PostgresSource `json:"postgres" required:"true" doc:"The PostgreSQL connection and publication to ingest."`
	Upstream *Upstream      `json:"upstream,omitempty" doc:"How mzsync itself reads the upstream database to report drift."`
}

// PostgresSource is the FROM POSTGRES part of a source.
type PostgresSource struct {
	Connection  string `json:"connection" required:"true" doc:"An existing CONNECTION ... TO POSTGRES created by an operator; in the source's schema unless qualified (schema.name). mzsync never handles its credentials."`
	Publication string `json:"publication" required:"true" doc:"The upstream PUBLICATION to replicate."`
}

// Upstream says how mzsync reaches the upstream database. It never holds
// the URL itself, only where to find it.
type Upstream struct {
	URLEnv string `json:"urlEnv" required:"true" doc:"Name of the environment variable holding the upstream PostgreSQL URL. Never a URL or credential." pattern:"^[A-Za-z_][A-Za-z0-9_]*$"`
}

// SchemaSpec declares a consumer-facing schema (the alias) and how its
// versions are rolled out.
type SchemaSpec struct {
	Active    string     `json:"active" required:"true" doc:"The version consumers see under the schema's name."`
	Retain    *int       `json:"retain,omitempty" doc:"How many versions older than active stay built for instant rollback." default:"1" minimum:"0"`
	Prune     *bool      `json:"prune,omitempty" doc:"Drop versions beyond retain without --allow-drop." default:"false"`
	Cluster   string     `json:"cluster,omitempty" doc:"Default cluster for materialized views and indexes." default:"quickstart"`
	Readiness *Readiness `json:"readiness,omitempty" doc:"When a built version counts as ready for cutover."`
	Grants    []Grant    `json:"grants,omitempty" doc:"Privileges for consumer roles, given on every version when it is built, before its cutover, so consumers never lose access at the swap."`
	SwapGroup string     `json:"swapGroup,omitempty" doc:"Schemas with the same swapGroup are cut over together, in one DDL transaction, once every one of them that changes version is ready: consumers see them change at the same instant, and none changes if one cannot. Without it each schema is cut over on its own as soon as it is ready."`
}

// Grant gives a role privileges on every version of a schema.
type Grant struct {
	Role       string   `json:"role" required:"true" doc:"The consumer role (it must exist in Materialize)."`
	Privileges []string `json:"privileges" required:"true" doc:"USAGE (on the version schema) and/or SELECT (on every table, view and materialized view of the version)."`
}

// GrantPrivileges are the privileges a Grant may give.
var GrantPrivileges = []string{"USAGE", "SELECT"}

// Readiness is the cutover gate of a schema.
type Readiness struct {
	MaxLag  string `json:"maxLag,omitempty" doc:"Highest lag a materialized view or index may have at cutover (Go duration, e.g. 1s)." default:"1s"`
	Timeout string `json:"timeout,omitempty" doc:"How long apply --wait waits for readiness (Go duration, e.g. 30m)." default:"30m"`
}

// VersionSpec declares one complete, immutable set of objects of a schema.
type VersionSpec struct {
	Schema    string  `json:"schema" required:"true" doc:"The Schema this version belongs to."`
	Tables    []Table `json:"tables,omitempty" doc:"Tables fed from a source (CREATE TABLE ... FROM SOURCE)."`
	Views     []View  `json:"views,omitempty" doc:"Views and materialized views, written against this version's objects by short name."`
	Indexes   []Index `json:"indexes,omitempty" doc:"Indexes on this version's tables and views."`
	AdoptFrom string  `json:"adoptFrom,omitempty" doc:"Take over an existing schema built by hand (no mzsync marker) as this version, without rebuilding: its tables, views, materialized views and indexes must match this version exactly (same sources, references, column options, definitions, clusters and keys), or the plan names every difference and changes nothing. The schema may be the consumer-facing schema itself (it is adopted where it is, as the live version) or another one (renamed to <schema>_<version> in a fenced transaction). Once the version is owned the field has no effect; it is not part of the version's digest."`
}

// Table is a table fed from a source.
type Table struct {
	Name           string   `json:"name" required:"true" doc:"The table's name inside the version."`
	Source         string   `json:"source" required:"true" doc:"Name of a declared Source."`
	Reference      string   `json:"reference" required:"true" doc:"Upstream table as schema.table; a bare table means public.table. Quote parts with \" to keep case."`
	TextColumns    []string `json:"textColumns,omitempty" doc:"Upstream columns ingested as text (TEXT COLUMNS)."`
	ExcludeColumns []string `json:"excludeColumns,omitempty" doc:"Upstream columns not ingested (EXCLUDE COLUMNS)."`
}

// View is a view or a materialized view.
type View struct {
	Name         string `json:"name" required:"true" doc:"The view's name inside the version."`
	Materialized bool   `json:"materialized,omitempty" doc:"Create a materialized view instead of a view." default:"false"`
	SQL          string `json:"sql" required:"true" doc:"Exactly one query (SELECT, WITH, VALUES, TABLE) over this version's objects by short name."`
	Cluster      string `json:"cluster,omitempty" doc:"Cluster of a materialized view; defaults to the schema's cluster."`
}

// Index is an index on a table or view of the same version.
type Index struct {
	Name    string   `json:"name,omitempty" doc:"The index's name; defaults to <on>_<columns>_idx, or <on>_primary_idx for a default index."`
	On      string   `json:"on" required:"true" doc:"The table or view indexed, by short name in this version."`
	Columns []string `json:"columns,omitempty" doc:"Key columns; none means a default index."`
	Cluster string   `json:"cluster,omitempty" doc:"Cluster of the index; defaults to the schema's cluster."`
}

// DefaultName returns the name Materialize would give the index:
// <on>_<columns joined by _>_idx, or <on>_primary_idx without columns.
func (ix Index) DefaultName() string {
	if len(ix.Columns) == 0 {
		return ix.On + "_primary_idx"
	}
	n := ix.On
	for _, c := range ix.Columns {
		n += "_" + c
	}
	return n + "_idx"
}

// ResolvedName returns Name, or DefaultName when Name is empty.
func (ix Index) ResolvedName() string {
	if ix.Name != "" {
		return ix.Name
	}
	return ix.DefaultName()
}

// Manifest is one decoded document.
type Manifest struct {
	// File is the path of the file the document came from, slash-separated
	// and relative to the manifest root.
	File string
	// Document is the 1-based index of the document in File.
	Document int
	// Line is the line the document starts on.
	Line int

	APIVersion string
	Kind       string
	Metadata   Metadata

	// Exactly one of these is set, matching Kind.
	Source  *SourceSpec
	Schema  *SchemaSpec
	Version *VersionSpec

	// lines maps a field path (spec.views[0].sql) to its line.
	lines map[string]int
}

// LineOf returns the line of the field at path, or of its closest
// ancestor that has one.
func (m *Manifest) LineOf(path string) int {
	for p := path; p != ""; p = parentPath(p) {
		if l, ok := m.lines[p]; ok {
			return l
		}
	}
	return m.Line
}

func parentPath(p string) string {
	for i := len(p) - 1; i >= 0; i-- {
		switch p[i] {
		case '.':
			return p[:i]
		case '[':
			return p[:i]
		}
	}
	return ""
}

// document is the envelope of every manifest document; it exists for the
// JSON Schema and the strict decoder.
type document struct {
	APIVersion string   `json:"apiVersion" required:"true" doc:"Always mzsync.dev/v1alpha1."`
	Kind       string   `json:"kind" required:"true" doc:"Source, Schema or Version."`
	Metadata   Metadata `json:"metadata" required:"true"`
}
