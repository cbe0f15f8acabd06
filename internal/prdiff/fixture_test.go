package prdiff

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/mzsync/mzsync/internal/model"
)

// Hand-made desired states shaped like internal/desired's output: sorted,
// with digests computed from content, so that equal content has equal
// digests and any change shows in the digest.

var pgRef = model.Ref{Schema: "public", Name: "pg"}

func sum(parts ...string) string {
	h := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return "sha256:" + hex.EncodeToString(h[:])
}

func table(name string) model.Object {
	return model.Object{Kind: model.KindTable, Name: name, Source: pgRef, Reference: model.UpstreamRef{Schema: "public", Table: name}}
}

func matview(name, sql string) model.Object {
	return model.Object{Kind: model.KindMaterializedView, Name: name, SQL: sql, Cluster: "quickstart"}
}

func index(name, on string, cols ...string) model.Object {
	return model.Object{Kind: model.KindIndex, Name: name, On: on, Columns: cols, Cluster: "quickstart"}
}

// ver builds a version of schema app; its digest covers its objects'
// content but not its name, as internal/desired's does.
func ver(name string, objs ...model.Object) model.Version {
	v := model.Version{ID: model.VersionID{Schema: "app", Version: name}}
	var digests []string
	for _, o := range objs {
		o.Digest = ""
		o.Digest = sum(fmt.Sprintf("%+v", o))
		v.Objects = append(v.Objects, o)
		digests = append(digests, o.Digest)
	}
	slices.Sort(digests)
	v.Digest = sum(digests...)
	return v
}

// v1, v2, v3 are distinct versions of app.
func v1() model.Version {
	return ver("v1", table("t"), matview("matview", "SELECT sum(a) AS total FROM t"))
}

// viewsOnly is a version of one view, no tables.
func viewsOnly(name string) model.Version {
	return ver(name, matview("matview", "SELECT 1 AS total"))
}

func v2() model.Version {
	return ver("v2", table("t"), matview("matview", "SELECT sum(a) AS total FROM t WHERE b"), index("matview_total_idx", "matview", "total"))
}
func v3() model.Version {
	return ver("v3", table("t"), matview("matview", "SELECT sum(a) AS total, count(*) AS n FROM t WHERE b"))
}

// schema builds a schema named app (unless renamed with in) with versions
// sorted as internal/desired sorts them.
func schema(active string, retain int, vs ...model.Version) model.Schema {
	slices.SortFunc(vs, func(a, b model.Version) int { return model.CompareVersions(a.ID.Version, b.ID.Version) })
	return model.Schema{Name: "app", Active: active, Retain: retain, Cluster: "quickstart",
		Readiness: model.Readiness{MaxLag: time.Second, Timeout: 30 * time.Minute}, Versions: vs}
}

// in moves a schema and its versions to another name.
func in(name string, s model.Schema) model.Schema {
	s.Name = name
	for i := range s.Versions {
		s.Versions[i].ID.Schema = name
	}
	return s
}

func source(name string) model.Source {
	s := model.Source{Name: name, Schema: "public", Cluster: "quickstart", Connection: "public.pg_conn", Publication: "mz_source", UpstreamURLEnv: "PG_UPSTREAM_URL"}
	s.Digest = sum(s.Schema, s.Name, s.Cluster, s.Connection, s.Publication)
	return s
}

func desiredState(rev string, sources []model.Source, schemas ...model.Schema) *model.Desired {
	slices.SortFunc(schemas, func(a, b model.Schema) int { return strings.Compare(a.Name, b.Name) })
	return &model.Desired{Revision: rev, Sources: sources, Schemas: schemas}
}

// one is the common shape: source pg and schema app.
func one(rev string, s model.Schema) *model.Desired {
	return desiredState(rev, []model.Source{source("pg")}, s)
}
