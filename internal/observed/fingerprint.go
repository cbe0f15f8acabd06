package observed

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"

	"github.com/mzsync/mzsync/internal/model"
)

// Fingerprint summarizes everything in obs that a plan depends on: the
// database, schemas with their comments and objects, sources, clusters and
// their replicas, and dependencies. It leaves out what moves on its own
// without anyone changing the catalog (readiness facts, source and replica
// statuses, lag), the apply lease, stale lease schemas and the upstream
// state, so a plan is stale only when the catalog really changed. obs must
// be sorted as Read sorts it; the result is "sha256:<hex>".
func Fingerprint(obs *model.Observed) string {
	type fpObject struct {
		ID, Kind, Name, Comment string
		Cluster, OnID, SourceID string
		Reference               model.UpstreamRef
		TextColumns             []string
		ExcludeColumns          []string
		Columns                 []model.Column
	}
	type fpSchema struct {
		ID, Name, Comment string
		Objects           []fpObject
	}
	type fpSource struct {
		ID, Schema, Name, Type, Cluster, Connection, Comment string
	}
	type fpReplica struct{ ID, Name string }
	type fpCluster struct {
		ID, Name string
		Replicas []fpReplica
	}
	var fp struct {
		Format       int
		Database     string
		Schemas      []fpSchema
		Sources      []fpSource
		Clusters     []fpCluster
		Dependencies []model.Dependency
	}
	fp.Format = 1
	fp.Database = obs.Database
	for _, s := range obs.Schemas {
		if model.IsLeaseSchema(s.Name) {
			continue
		}
		fs := fpSchema{ID: s.ID, Name: s.Name, Comment: s.Comment}
		for _, o := range s.Objects {
			fs.Objects = append(fs.Objects, fpObject{
				ID: o.ID, Kind: string(o.Kind), Name: o.Name, Comment: o.Comment,
				Cluster: o.Cluster, OnID: o.OnID, SourceID: o.SourceID,
				Reference: o.Reference, TextColumns: o.TextColumns, ExcludeColumns: o.ExcludeColumns,
				Columns: o.Columns,
			})
		}
		fp.Schemas = append(fp.Schemas, fs)
	}
	for _, s := range obs.Sources {
		fp.Sources = append(fp.Sources, fpSource{
			ID: s.ID, Schema: s.Schema, Name: s.Name, Type: s.Type,
			Cluster: s.Cluster, Connection: s.Connection, Comment: s.Comment,
		})
	}
	for _, c := range obs.Clusters {
		fc := fpCluster{ID: c.ID, Name: c.Name}
		for _, r := range c.Replicas {
			fc.Replicas = append(fc.Replicas, fpReplica{ID: r.ID, Name: r.Name})
		}
		fp.Clusters = append(fp.Clusters, fc)
	}
	fp.Dependencies = obs.Dependencies
	// encoding/json writes struct fields in declaration order and the
	// slices are sorted, so equal states encode to equal bytes.
	b, err := json.Marshal(&fp)
	if err != nil {
		panic("observed: fingerprint encoding: " + err.Error()) // plain data cannot fail
	}
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}
