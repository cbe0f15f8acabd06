package mzemu

import (
	"context"
	"fmt"
	"strconv"
	"strings"
)

// clusterSpec is a parsed CREATE CLUSTER: managed (SIZE, REPLICATION
// FACTOR) or unmanaged (REPLICAS (name (SIZE ...), ...)).
type clusterSpec struct {
	name     string
	managed  bool
	size     string
	factor   int
	replicas []replicaSpec
}

type replicaSpec struct{ name, size string }

// clusterOptionWords are the leading keywords of CREATE CLUSTER options,
// in the order Materialize's parser lists them.
const clusterOptionWords = "AVAILABILITY or DISK or INTROSPECTION or MANAGED or REPLICAS or REPLICATION or SIZE or SCHEDULE"

// parseCreateCluster parses CREATE CLUSTER name [(] option [, ...] [)]:
// the parentheses and the = of each option are optional, as in
// Materialize.
func parseCreateCluster(p *parser) (*stmt, error) {
	name, err := p.ident()
	if err != nil {
		return nil, err
	}
	paren := p.op("(")
	var size, factor, replicas, managed *string
	var reps []replicaSpec
	seen := map[string]bool{}
	for {
		var opt string
		switch {
		case p.words("size"):
			opt = "SIZE"
		case p.words("replication", "factor"):
			opt = "REPLICATION FACTOR"
		case p.words("replicas"):
			opt = "REPLICAS"
		case p.words("managed"):
			opt = "MANAGED"
		case p.words("disk"):
			opt = "DISK"
		case p.words("introspection", "interval"):
			opt = "INTROSPECTION INTERVAL"
		case p.words("introspection", "debugging"):
			opt = "INTROSPECTION DEBUGGING"
		case p.words("availability", "zones"):
			opt = "AVAILABILITY ZONES"
		case p.words("schedule"):
			opt = "SCHEDULE"
		default:
			return nil, errf(codeSyntax, "Expected one of %s, found %s", clusterOptionWords, describeTok(p.peek()))
		}
		if seen[opt] {
			return nil, errf(codeInternal, "%s specified more than once", opt)
		}
		seen[opt] = true
		p.op("=")
		switch opt {
		case "REPLICAS":
			if reps, err = parseReplicaDefs(p); err != nil {
				return nil, err
			}
			v := ""
			replicas = &v
		case "MANAGED":
			v := "true"
			if t := p.peek(); t.isWord("true") || t.isWord("false") {
				v = p.next().val
			}
			managed = &v
		default:
			v, err := clusterOptionValue(p)
			if err != nil {
				return nil, err
			}
			switch opt {
			case "SIZE":
				size = &v
			case "REPLICATION FACTOR":
				factor = &v
			}
		}
		if !p.op(",") {
			break
		}
	}
	if paren {
		if err := p.expectOp(")"); err != nil {
			return nil, err
		}
	}
	if err := p.expectEnd(); err != nil {
		return nil, err
	}
	spec := clusterSpec{name: name, managed: replicas == nil, factor: 1}
	if managed != nil {
		spec.managed = *managed == "true"
	}
	if spec.managed {
		if replicas != nil {
			return nil, errf(codeInternal, "REPLICAS not supported for managed clusters")
		}
		if size == nil {
			return nil, errf(codeInternal, "SIZE must be specified for managed clusters")
		}
		spec.size = *size
		if factor != nil {
			n, err := strconv.Atoi(*factor)
			if err != nil || n < 0 {
				return nil, errf(codeInternal, "invalid REPLICATION FACTOR option value: %q", *factor)
			}
			spec.factor = n
		}
		for i := 1; i <= spec.factor; i++ {
			spec.replicas = append(spec.replicas, replicaSpec{name: fmt.Sprintf("r%d", i), size: spec.size})
		}
	} else {
		switch {
		case replicas == nil:
			return nil, errf(codeInternal, "REPLICAS must be specified for unmanaged clusters")
		case factor != nil:
			return nil, errf(codeInternal, "REPLICATION FACTOR not supported for unmanaged clusters")
		case size != nil:
			return nil, errf(codeInternal, "SIZE not supported for unmanaged clusters")
		}
		spec.factor = 0
		names := map[string]bool{}
		for _, r := range reps {
			if names[r.name] {
				return nil, errf(codeInternal, "cannot create multiple replicas named '%s' on cluster '%s'", r.name, name)
			}
			names[r.name] = true
		}
		spec.replicas = reps
	}
	return ddlStmt(clsDDLSingle, "CREATE CLUSTER", func(ctx context.Context, x *ddlTx) (string, error) {
		return "CREATE CLUSTER", x.createCluster(ctx, spec)
	}), nil
}

// clusterOptionValue reads one option value: a string, number, word or
// parenthesized list (kept as written).
func clusterOptionValue(p *parser) (string, error) {
	t := p.peek()
	switch {
	case t.kind == tokString || t.kind == tokNumber || t.kind == tokWord || t.kind == tokIdent:
		p.next()
		return t.val, nil
	case t.isOp("(") || t.isOp("["):
		start := t.start
		depth := 0
		for !p.atEnd() {
			u := p.next()
			if u.isOp("(") || u.isOp("[") {
				depth++
			} else if u.isOp(")") || u.isOp("]") {
				depth--
				if depth == 0 {
					return p.text[start:u.end], nil
				}
			}
		}
	}
	return "", p.errExpected("option value")
}

// parseReplicaDefs parses ( name ( SIZE [=] 'x' [, ...] ) [, ...] ).
func parseReplicaDefs(p *parser) ([]replicaSpec, error) {
	if err := p.expectOp("("); err != nil {
		return nil, err
	}
	var out []replicaSpec
	if p.op(")") {
		return out, nil
	}
	for {
		n, err := p.ident()
		if err != nil {
			return nil, err
		}
		if err := p.expectOp("("); err != nil {
			return nil, err
		}
		r := replicaSpec{name: n}
		for !p.op(")") {
			if p.atEnd() {
				return nil, p.errExpected("right parenthesis")
			}
			if p.words("size") {
				p.op("=")
				v, err := clusterOptionValue(p)
				if err != nil {
					return nil, err
				}
				r.size = v
				continue
			}
			p.next()
		}
		if r.size == "" {
			return nil, errf(codeInternal, "SIZE option must be specified")
		}
		out = append(out, r)
		if p.op(")") {
			return out, nil
		}
		if err := p.expectOp(","); err != nil {
			return nil, err
		}
	}
}

// reservedClusterName is Materialize's error for a cluster name with a
// system prefix.
func reservedClusterName(name string) error {
	if strings.HasPrefix(name, "mz_") || strings.HasPrefix(name, "pg_") {
		return errf(codeInternal, "cluster name %q is reserved", name).
			withDetail(`The prefixes "mz_" and "pg_" are reserved for system clusters.`)
	}
	return nil
}

func (x *ddlTx) createCluster(ctx context.Context, spec clusterSpec) error {
	if err := reservedClusterName(spec.name); err != nil {
		return err
	}
	if err := x.requireSystemPrivilege(ctx, "N"); err != nil {
		return err
	}
	rows, err := x.q(ctx, `SELECT 1 FROM mzemu_meta.clusters WHERE name = $1`, spec.name)
	if err != nil {
		return err
	}
	if len(rows) > 0 {
		return errf(codeInternal, "cluster '%s' already exists", spec.name)
	}
	var factor any
	if spec.managed {
		factor = spec.factor
	}
	rows, err = x.q(ctx, `INSERT INTO mzemu_meta.clusters (id, name, managed, size, replication_factor)
 VALUES ('u' || nextval('mzemu_meta.cluster_seq'), $1, $2, NULLIF($3, ''), $4::int4) RETURNING id`,
		spec.name, spec.managed, spec.size, factor)
	if err != nil {
		return err
	}
	id := rows[0][0]
	for _, r := range spec.replicas {
		if err := x.exec(ctx, `INSERT INTO mzemu_meta.replicas (id, name, cluster_id, size)
 VALUES ('u' || nextval('mzemu_meta.replica_seq'), $1, $2, $3)`, r.name, id, r.size); err != nil {
			return err
		}
	}
	return nil
}

// clusterByName returns a cluster's id and owner; id "" when there is none.
func (x *ddlTx) clusterByName(ctx context.Context, name string) (id, owner string, err error) {
	rows, err := x.q(ctx, `SELECT id, owner_id FROM mzemu_meta.clusters WHERE name = $1`, name)
	if err != nil || len(rows) == 0 {
		return "", "", err
	}
	return rows[0][0], rows[0][1], nil
}

// swapClusters exchanges two clusters' names; objects follow their
// cluster by ID. ALTER CLUSTER IF EXISTS ... SWAP ignores IF EXISTS, as
// Materialize's parser does.
func (x *ddlTx) swapClusters(ctx context.Context, a, b string) error {
	aid, aowner, err := x.clusterByName(ctx, a)
	if err != nil {
		return err
	}
	if aid == "" {
		return errf(codeInternal, "unknown cluster '%s'", a)
	}
	bid, bowner, err := x.clusterByName(ctx, b)
	if err != nil {
		return err
	}
	if bid == "" {
		return errf(codeInternal, "unknown cluster '%s'", b)
	}
	if err := x.requireOwner(ctx, aowner, "CLUSTER", a); err != nil {
		return err
	}
	if err := x.requireOwner(ctx, bowner, "CLUSTER", b); err != nil {
		return err
	}
	if aid == bid {
		return nil
	}
	tmp := fmt.Sprintf("mz_cluster_swap_%s_%s", aid, bid)
	for _, r := range [][2]string{{aid, tmp}, {bid, a}, {aid, b}} {
		if err := x.exec(ctx, `UPDATE mzemu_meta.clusters SET name = $2 WHERE id = $1`, r[0], r[1]); err != nil {
			return err
		}
	}
	return nil
}

// renameCluster is ALTER CLUSTER [IF EXISTS] a RENAME TO b.
func (x *ddlTx) renameCluster(ctx context.Context, name, newName string, ifExists bool) error {
	id, owner, err := x.clusterByName(ctx, name)
	if err != nil {
		return err
	}
	if id == "" {
		if ifExists {
			x.notice(notice(codeUndefinedObj, "cluster %q does not exist, skipping", name))
			return nil
		}
		return errf(codeInternal, "unknown cluster '%s'", name)
	}
	if err := x.requireOwner(ctx, owner, "CLUSTER", name); err != nil {
		return err
	}
	if err := reservedClusterName(newName); err != nil {
		return err
	}
	if other, _, err := x.clusterByName(ctx, newName); err != nil {
		return err
	} else if other != "" {
		return errf(codeInternal, "cluster '%s' already exists", newName)
	}
	return x.exec(ctx, `UPDATE mzemu_meta.clusters SET name = $2 WHERE id = $1`, id, newName)
}

func (x *ddlTx) dropClusters(ctx context.Context, names [][]string, ifExists, cascade bool) error {
	for _, n := range names {
		name := n[len(n)-1]
		cid, owner, err := x.clusterByName(ctx, name)
		if err != nil {
			return err
		}
		if cid == "" {
			if ifExists {
				x.notice(notice(codeUndefinedObj, "cluster %q does not exist, skipping", name))
				continue
			}
			return errf(codeInternal, "unknown cluster '%s'", name)
		}
		if err := x.requireOwner(ctx, owner, "CLUSTER", name); err != nil {
			return err
		}
		objs, err := x.q(ctx, `SELECT id FROM mzemu_meta.items WHERE cluster_id = $1 ORDER BY name`, cid)
		if err != nil {
			return err
		}
		if len(objs) > 0 {
			if !cascade {
				return errf(codeInternal, "cannot drop cluster %q because other objects depend on it", name)
			}
			var ids []string
			for _, o := range objs {
				ids = append(ids, o[0])
			}
			if err := x.dropClosure(ctx, ids, true); err != nil {
				return err
			}
		}
		for _, s := range []string{
			`DELETE FROM mzemu_meta.clusters WHERE id = $1`,
			`DELETE FROM mzemu_meta.comments WHERE id = $1 AND object_type = 'cluster'`,
		} {
			if err := x.exec(ctx, s, cid); err != nil {
				return err
			}
		}
	}
	return nil
}
