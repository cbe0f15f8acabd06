package model

import (
	"fmt"
	"strings"
	"time"
)

// Kind is the kind of an object mzsync manages inside a version schema.
type Kind string

// The kinds of managed objects, as Materialize names them in mz_comments.
const (
	KindTable            Kind = "table" // CREATE TABLE ... FROM SOURCE
	KindView             Kind = "view"
	KindMaterializedView Kind = "materialized-view"
	KindIndex            Kind = "index"
)

// SQLName returns the kind as written in DDL: "TABLE", "MATERIALIZED VIEW".
func (k Kind) SQLName() string {
	switch k {
	case KindTable:
		return "TABLE"
	case KindView:
		return "VIEW"
	case KindMaterializedView:
		return "MATERIALIZED VIEW"
	case KindIndex:
		return "INDEX"
	}
	return string(k)
}

// Ref names a relation in a schema of the current database.
type Ref struct {
	Schema string
	Name   string
}

// String renders the reference unquoted, for display: app_v2.t.
func (r Ref) String() string { return r.Schema + "." + r.Name }

// Quoted renders the reference for SQL: "app_v2"."t".
func (r Ref) Quoted() string { return QuoteIdent(r.Schema) + "." + QuoteIdent(r.Name) }

// VersionID identifies a version by its alias schema and its name.
type VersionID struct {
	Schema  string
	Version string
}

// String renders the version for display: app/v2.
func (v VersionID) String() string { return v.Schema + "/" + v.Version }

// MarshalText renders the version as app/v2 in JSON.
// The zero VersionID renders as "".
func (v VersionID) MarshalText() ([]byte, error) {
	if v == (VersionID{}) {
		return []byte{}, nil
	}
	return []byte(v.String()), nil
}

// UnmarshalText parses app/v2.
func (v *VersionID) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*v = VersionID{}
		return nil
	}
	s, ver, ok := strings.Cut(string(b), "/")
	if !ok {
		return fmt.Errorf("version %q: want schema/version", b)
	}
	v.Schema, v.Version = s, ver
	return nil
}

// BuildSchema is the name of the schema the version is built in before
// cutover, and carries after it is retired: app_v2.
func (v VersionID) BuildSchema() string { return v.Schema + "_" + v.Version }

// UpstreamRef names a table in the upstream PostgreSQL database.
type UpstreamRef struct {
	Schema string
	Table  string
}

// String renders the upstream reference unquoted: public.t.
func (u UpstreamRef) String() string { return u.Schema + "." + u.Table }

// Desired is the state declared by a manifest set, normalized: names folded
// and fully qualified, slices sorted, digests computed.
type Desired struct {
	// Revision identifies the manifest input: a git commit or a content hash.
	Revision string
	// Sources are sorted by name.
	Sources []Source
	// Schemas are sorted by name.
	Schemas []Schema
}

// Source is a PostgreSQL source declared in the manifests.
type Source struct {
	Name string
	// Schema is the Materialize schema the source object lives in.
	Schema string
	// Cluster runs the source's ingestion.
	Cluster string
	// Connection names an existing Materialize CONNECTION ... TO POSTGRES,
	// in the same schema as the source unless qualified.
	Connection  string
	Publication string
	// UpstreamURLEnv names the environment variable that holds the URL
	// mzsync uses to inspect the upstream database. It is never the URL.
	UpstreamURLEnv string
	// Digest is the fingerprint of the source's canonical definition.
	Digest string
}

// Ref returns the source's qualified name.
func (s Source) Ref() Ref { return Ref{Schema: s.Schema, Name: s.Name} }

// Readiness is a schema's cutover gate.
type Readiness struct {
	// MaxLag is the highest wallclock lag a materialized view or index may
	// have for its version to count as ready.
	MaxLag time.Duration
	// Timeout bounds how long apply --wait waits for readiness.
	Timeout time.Duration
}

// Schema is a consumer-facing schema (the alias) and its versions.
type Schema struct {
	Name string
	// Active names the version consumers see under Name.
	Active string
	// Retain is how many versions older than Active are kept built.
	Retain int
	// Prune allows dropping versions beyond Retain without --allow-drop.
	Prune bool
	// Cluster is the default cluster for materialized views and indexes.
	Cluster   string
	Readiness Readiness
	// Grants are given on every version when it is built, sorted by role.
	Grants []Grant
	// SwapGroup, when set, cuts this schema over in one DDL transaction
	// with the other schemas of the same group (spec.swapGroup).
	SwapGroup string `json:",omitempty"`
	// Versions are sorted by CompareVersions, oldest first.
	Versions []Version
}

// Grant gives Role the Privileges (sorted; "USAGE" on the version schema,
// "SELECT" on its relations) on every version of a schema.
type Grant struct {
	Role       string
	Privileges []string
}

// Version returns the declared version with the given name.
func (s *Schema) Version(name string) (*Version, bool) {
	for i := range s.Versions {
		if s.Versions[i].ID.Version == name {
			return &s.Versions[i], true
		}
	}
	return nil, false
}

// Version is one complete, immutable set of objects for a schema.
type Version struct {
	ID VersionID
	// Objects are in creation order: tables (by source, then name), then
	// views and materialized views in dependency order, then indexes.
	Objects []Object
	// Digest is the fingerprint of every object's canonical definition.
	Digest string
	// AdoptFrom names an existing schema without mzsync's marker, built by
	// hand, that is taken over as this version without rebuilding when
	// its objects match the version's (spec.adoptFrom). It is not part of
	// the digest: removing it after the adoption changes nothing.
	AdoptFrom string `json:",omitempty"`
}

// Object is one managed object of a version. Name is its short name inside
// the version schema; only the fields of its Kind are set.
type Object struct {
	Kind Kind
	Name string

	// Table from source.
	Source         Ref
	Reference      UpstreamRef
	TextColumns    []string // sorted
	ExcludeColumns []string // sorted

	// View or materialized view: one query, written against the version's
	// objects by short name.
	SQL string
	// DependsOn lists the short names of the version's objects this object
	// reads (views: the names found in SQL; index: its On).
	DependsOn []string

	// Materialized view or index: the cluster it runs on.
	Cluster string

	// Index: the object it indexes (short name in the same version) and its
	// key columns. No columns means a default index.
	On      string
	Columns []string

	// Digest is the fingerprint of the canonical definition above.
	Digest string
}

// Observed is what mzsync read from Materialize (and upstream PostgreSQL)
// in one pass.
type Observed struct {
	// Database is the current database.
	Database string
	// Schemas are the user schemas of Database, sorted by name.
	Schemas []ObservedSchema
	// Sources are the sources of Database, sorted by schema and name.
	Sources []ObservedSource
	// Clusters are sorted by name.
	Clusters []Cluster
	// Dependencies are sorted by (Object, Referenced) IDs.
	Dependencies []Dependency
	// Lease is the current apply lease, if any.
	Lease *Lease
	// Upstream maps a source name to what its upstream database reports;
	// absent when upstream inspection was not requested or failed.
	Upstream map[string]UpstreamState
	// UpstreamErrors maps a source name to why its upstream could not be
	// inspected (never holding a credential); absent when it was, or when
	// inspection was not requested.
	UpstreamErrors map[string]string
	// References maps a source name to Materialize's list of what its
	// publication holds (mz_internal.mz_source_references, read right
	// after ALTER SOURCE ... REFRESH REFERENCES), for sources whose
	// upstream could not be inspected directly, when that fallback was
	// asked for (drift --refresh-references). Table and column names only.
	References map[string][]SourceReference
	// Access is what the session's role may do and who owns and may read
	// what; nil when it was not read (see observed.ReadAccess).
	Access *Access
	// Fingerprint summarizes everything above that a plan depends on, so
	// apply can refuse a plan computed from a different state.
	Fingerprint string
}

// ObservedSchema is a schema in the catalog.
type ObservedSchema struct {
	ID      string
	Name    string
	Comment string
	// Marker is the decoded mzsync marker comment, nil if unowned.
	Marker *SchemaMarker
	// Objects are sorted by name.
	Objects []ObservedObject
}

// ObservedObject is a relation or index in a schema.
type ObservedObject struct {
	ID      string
	Kind    Kind // other kinds (sources, sinks, plain tables) keep Materialize's type name
	Name    string
	Comment string
	// Marker is the decoded mzsync marker comment, nil if unowned.
	Marker *ObjectMarker

	// Cluster is the cluster name of a materialized view or index.
	Cluster string
	// Definition is the stored query of a view or materialized view
	// (mz_views/mz_materialized_views.definition): on Materialize a
	// normalized, fully qualified query followed by ';'.
	Definition string
	// OnID is the ID of the object an index is on.
	OnID string
	// IndexKeys are an index's key columns in order, by name in the
	// indexed object; an expression key is "expr:" and its text.
	IndexKeys []string
	// SourceID and Reference describe a table fed from a source.
	SourceID       string
	Reference      UpstreamRef
	TextColumns    []string
	ExcludeColumns []string
	// Keys are the primary-key and unique constraints Materialize recorded
	// for a source-fed table at creation, each a sorted column list.
	Keys [][]string
	// Pinned is the upstream description a source-fed table recorded at
	// creation (the DETAILS of its stored statement): what Materialize
	// compares upstream with. Nil when unknown.
	Pinned *PinnedUpstream
	// Columns in position order.
	Columns []Column

	// Readiness facts.
	// SnapshotCommitted: a source-fed table's initial snapshot is done.
	SnapshotCommitted bool
	// Status and Error: mz_source_statuses for a source-fed table.
	Status string
	Error  string
	// Hydrated: a materialized view or index is hydrated on at least one
	// replica.
	Hydrated bool
	// Lag is the wallclock global lag, nil when unknown.
	Lag *time.Duration
}

// Column is one column of an observed relation or upstream table.
type Column struct {
	Name     string
	Position int
	// Type is Materialize's type name (mz_columns.type, e.g. "time"),
	// not PostgreSQL's format_type.
	Type     string
	Nullable bool
	// TypeOID and TypeMod are mz_columns.type_oid and type_mod (-1: no
	// modifier); TypeOID is 0 when unknown.
	TypeOID uint32
	TypeMod int32
}

// ObservedSource is a source in the catalog.
type ObservedSource struct {
	ID         string
	Schema     string
	Name       string
	Type       string
	Cluster    string
	Connection string
	Status     string
	Error      string
	Comment    string
	Marker     *ObjectMarker
}

// Ref returns the source's qualified name.
func (s ObservedSource) Ref() Ref { return Ref{Schema: s.Schema, Name: s.Name} }

// Cluster is a compute or storage cluster.
type Cluster struct {
	ID       string
	Name     string
	Replicas []Replica
}

// Replica is a cluster replica.
type Replica struct {
	ID     string
	Name   string
	Status string // e.g. "online", "offline"; empty when unknown
	// OOMKills counts the replica's out-of-memory kills in the last day.
	OOMKills int
}

// Dependency says Object reads Referenced (both IDs).
type Dependency struct {
	Object     string
	Referenced string
}

// Lease is the one-writer lease as read from the catalog.
type Lease struct {
	Owner   string
	Expires time.Time
	// Token identifies one holding of the lease; its fence schema is
	// LeaseFencePrefix + Token.
	Token string
}

// UpstreamState is what an upstream PostgreSQL database reports for the
// tables a source publishes.
type UpstreamState struct {
	Publication string
	// PublicationExists is false when the publication is missing.
	PublicationExists bool
	// Tables are sorted by schema and name.
	Tables []UpstreamTable
}

// PinnedUpstream is the upstream table a source-fed table was created
// from, as Materialize stored it: the table's OID and, for each ingested
// column (EXCLUDE COLUMNS left out), its attnum, type OID, type modifier
// and nullability. Type names are not stored.
type PinnedUpstream struct {
	OID     uint32
	Ref     UpstreamRef
	Columns []UpstreamColumn
}

// SourceReference is one row of mz_internal.mz_source_references: an
// upstream table the source could ingest, with its column names in
// upstream order (no types, attnums or OIDs), as of UpdatedAt.
type SourceReference struct {
	Ref       UpstreamRef
	Columns   []string
	UpdatedAt time.Time
}

// UpstreamTable describes one upstream table.
type UpstreamTable struct {
	Ref UpstreamRef
	// OID is pg_class.oid; 0 when the table does not exist.
	OID             uint32
	InPublication   bool
	ReplicaIdentity string // "full", "default", "nothing", "index"
	Columns         []UpstreamColumn
	// Keys are primary-key and unique constraints, each a sorted column list.
	Keys [][]string
}

// UpstreamColumn is one upstream column.
type UpstreamColumn struct {
	Name     string
	Attnum   int
	Type     string // format_type(atttypid, atttypmod)
	TypeOID  uint32
	TypeMod  int32
	Nullable bool
}
