package mzemu

import (
	"context"
	"strings"
)

// A read of user objects runs on the session's cluster. Materialize
// refuses it at once when that cluster has no replica at all
// (AdapterError::NoClusterReplicasAvailable, src/adapter/src/error.rs:
// 0A000 `CLUSTER "c" has no replicas available to service request`) and
// otherwise sends the peek to the replicas, so while none of them is
// online the read waits, until a replica comes online, the statement
// times out (57014 `canceling statement due to statement timeout`) or the
// client cancels it (57014 `canceling statement due to user request`).
// Reads of catalog relations only are routed to mz_catalog_server and are
// never affected; nor are reads that name no relation.

// awaitReplicaSQL waits in the backing session, so that statement_timeout
// and cancel requests end the wait as they end any backing statement.
const awaitReplicaSQL = `SELECT mzemu_meta.await_replica($1)`

// awaitClusterReplica makes a read of user objects wait while the
// session's cluster has no online replica, and fails it when the cluster
// has no replica at all.
func (ss *session) awaitClusterReplica(ctx context.Context, text string) error {
	_, _, reads := statementRefs(lex(stripDatabase(text)))
	var user [][]string
	for _, n := range reads {
		if !isCatalogName(n) {
			user = append(user, n)
		}
	}
	if len(user) == 0 {
		return nil
	}
	rows, err := ss.q(ctx, `SELECT c.id, c.managed, count(r.id), count(r.id) FILTER (WHERE r.status = 'online')
  FROM mzemu_meta.clusters c LEFT JOIN mzemu_meta.replicas r ON r.cluster_id = c.id
 WHERE c.name = $1 GROUP BY c.id`, ss.cluster)
	if err != nil || len(rows) == 0 || rows[0][3] != "0" {
		return err
	}
	readsItem := false
	for _, n := range user {
		it, err := ss.lookupItem(ctx, n)
		if err != nil {
			return err
		}
		if it != nil {
			readsItem = true
			break
		}
	}
	if !readsItem {
		return nil
	}
	if rows[0][2] == "0" {
		hint := "Use CREATE CLUSTER REPLICA to attach cluster replicas to the cluster"
		if rows[0][1] == "t" {
			hint = "Use ALTER CLUSTER to adjust the replication factor of the cluster. Example:`ALTER CLUSTER <cluster-name> SET (REPLICATION FACTOR 1)`"
		}
		return errf(codeFeature, "CLUSTER %s has no replicas available to service request", quotedName(ss.cluster)).withHint(hint)
	}
	_, err = ss.q(ctx, awaitReplicaSQL, rows[0][0])
	return err
}

// isCatalogName reports a relation name of a system schema (qualified, or
// unqualified with a system prefix), which Materialize answers on
// mz_catalog_server.
func isCatalogName(n []string) bool {
	if len(n) >= 2 {
		return isAmbientSchema(n[len(n)-2])
	}
	return len(n) == 1 && (strings.HasPrefix(n[0], "mz_") || strings.HasPrefix(n[0], "pg_"))
}

// quotedName renders a name as Materialize's QuotedStr does (double
// quotes, inner quotes doubled).
func quotedName(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}
